// Where a campaign's preprocessing comes from. Four sources give the same keys (docs/campaigns.md)
// and are layered key by key, the first that sets a key winning:
//   1. command-line flags (--scale, --mean, ...),
//   2. the config file's preprocess: section,
//   3. a sidecar file next to the model, MODEL_FILE.preprocess.yaml (for models one cannot edit),
//   4. the model's own metadata: the ONNX metadata_props key "dnnfi.preprocess", whose value is
//      YAML with the same keys.
// Keys nobody sets take PreprocessConfig's defaults. Every source is parsed by the same code
// (parse_preprocess_yaml in campaign/config.h), so a bad value is the same one-line InputError
// naming the file (or metadata key) and the key wherever it comes from.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "campaign/dataset.h"

namespace dnnfi {

inline constexpr const char* kPreprocessMetadataKey = "dnnfi.preprocess";

// The preprocessing keys one source gives; a key the source does not set is empty.
struct PreprocessSettings {
  std::optional<bool> grayscale;
  std::optional<bool> bgr;
  std::optional<std::vector<int>> resize;
  std::optional<std::vector<int>> center_crop;  // [h, w] (a single size is stored as [s, s])
  std::optional<double> scale;
  std::optional<std::vector<double>> mean;
  std::optional<std::vector<double>> std;
  std::optional<bool> nhwc;
  // Config key ("scale", "mean", "channels" for bgr, ...) -> where its value came from ("command
  // line", a file, "MODEL metadata dnnfi.preprocess"), for messages. Not part of the campaign.
  std::map<std::string, std::string> origin;

  bool empty() const;
  // Keys that `over` sets replace this one's, with their origin.
  void overlay(const PreprocessSettings& over);
  // The pipeline to run: the keys set here, PreprocessConfig's defaults for the rest.
  PreprocessConfig resolve() const;
};

// "MODEL_FILE.preprocess.yaml": the model's path with ".preprocess.yaml" appended.
std::string preprocess_sidecar_path(const std::string& model_path);

// The preprocessing a model carries: its dnnfi.preprocess metadata, overridden key by key by its
// sidecar file when there is one. Throws InputError naming the file/metadata key and the key.
PreprocessSettings model_preprocess(const std::map<std::string, std::string>& metadata,
                                    const std::string& model_path);

// "scale 0.00392157, mean [0.286], std [0.353], layout nchw": the effective values of the keys
// `s` sets, or "none" when it sets none.
std::string describe_preprocess(const PreprocessSettings& s);
// The distinct origins of the keys `s` sets, joined with ", " ("" when none).
std::string preprocess_origins(const PreprocessSettings& s);

}  // namespace dnnfi
