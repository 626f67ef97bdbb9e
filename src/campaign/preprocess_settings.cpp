#include "campaign/preprocess_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "campaign/config.h"
#include "core/error.h"

namespace dnnfi {

namespace {

template <typename T>
void take(std::optional<T>& dst, const std::optional<T>& src, const char* key,
          std::map<std::string, std::string>& origin,
          const std::map<std::string, std::string>& src_origin) {
  if (!src) return;
  dst = src;
  const auto it = src_origin.find(key);
  if (it != src_origin.end()) {
    origin[key] = it->second;
  } else {
    origin.erase(key);
  }
}

}  // namespace

bool PreprocessSettings::empty() const {
  return !grayscale && !bgr && !resize && !center_crop && !scale && !mean && !std && !nhwc;
}

void PreprocessSettings::overlay(const PreprocessSettings& over) {
  take(grayscale, over.grayscale, "grayscale", origin, over.origin);
  take(bgr, over.bgr, "channels", origin, over.origin);
  take(resize, over.resize, "resize", origin, over.origin);
  take(center_crop, over.center_crop, "center_crop", origin, over.origin);
  take(scale, over.scale, "scale", origin, over.origin);
  take(mean, over.mean, "mean", origin, over.origin);
  take(std, over.std, "std", origin, over.origin);
  take(nhwc, over.nhwc, "layout", origin, over.origin);
}

PreprocessConfig PreprocessSettings::resolve() const {
  PreprocessConfig c;
  if (grayscale) c.grayscale = *grayscale;
  if (bgr) c.bgr = *bgr;
  if (resize) c.resize = *resize;
  if (center_crop) c.center_crop = *center_crop;
  if (scale) c.scale = *scale;
  if (mean) c.mean = *mean;
  if (std) c.std = *std;
  if (nhwc) c.nhwc = *nhwc;
  return c;
}

std::string preprocess_sidecar_path(const std::string& model_path) {
  return model_path + ".preprocess.yaml";
}

PreprocessSettings model_preprocess(const std::map<std::string, std::string>& metadata,
                                    const std::string& model_path) {
  PreprocessSettings s;
  const auto it = metadata.find(kPreprocessMetadataKey);
  if (it != metadata.end()) {
    s = parse_preprocess_yaml(it->second, model_path + ": metadata_props " + kPreprocessMetadataKey,
                              false);
  }
  const std::string sidecar = preprocess_sidecar_path(model_path);
  std::error_code ec;
  if (std::filesystem::exists(sidecar, ec)) {
    std::ifstream in(sidecar, std::ios::binary);
    if (!in || std::filesystem::is_directory(sidecar, ec)) {
      throw InputError(sidecar + ": cannot read the model's preprocessing file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    s.overlay(parse_preprocess_yaml(ss.str(), sidecar, true));
  }
  return s;
}

std::string describe_preprocess(const PreprocessSettings& s) {
  std::vector<std::string> parts;
  if (s.grayscale) parts.push_back(fmt::format("grayscale {}", *s.grayscale));
  if (s.bgr) parts.push_back(fmt::format("channels {}", *s.bgr ? "bgr" : "rgb"));
  if (s.resize) parts.push_back(fmt::format("resize [{}]", fmt::join(*s.resize, ", ")));
  if (s.center_crop) {
    parts.push_back(fmt::format("center_crop [{}]", fmt::join(*s.center_crop, ", ")));
  }
  if (s.scale) parts.push_back(fmt::format("scale {}", *s.scale));
  if (s.mean) parts.push_back(fmt::format("mean [{}]", fmt::join(*s.mean, ", ")));
  if (s.std) parts.push_back(fmt::format("std [{}]", fmt::join(*s.std, ", ")));
  if (s.nhwc) parts.push_back(fmt::format("layout {}", *s.nhwc ? "nhwc" : "nchw"));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string preprocess_origins(const PreprocessSettings& s) {
  std::vector<std::string> seen;
  for (const auto& [key, from] : s.origin) {
    if (std::find(seen.begin(), seen.end(), from) == seen.end()) seen.push_back(from);
  }
  return fmt::format("{}", fmt::join(seen, ", "));
}

}  // namespace dnnfi
