// Readers for datasets of encoded image files: a folder with one subfolder per class (the
// torchvision ImageFolder convention) and GTSRB-style CSV annotations. Both index file names at
// open time and decode one image per get() with stb_image.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "campaign/dataset.h"
#include "campaign/dataset_readers.h"
#include "core/error.h"

// stb_image's functions are made static to this file, so another file that also needs stb_image
// cannot clash with these symbols. Only the formats the readers accept are compiled in.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_STDIO_WARNINGS
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace dnnfi::dataset_detail {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool has_image_extension(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".ppm" || ext == ".pgm" ||
         ext == ".bmp";
}

// stb_image 2.27 accumulates a PNM header number in an int without an overflow check (undefined
// behaviour, found by fuzz/ on a GTSRB .ppm). This checks the binary PNM header (P5/P6: width,
// height, maxval, with '#' comments) first: each number must have at most 9 digits and the header
// must end within its first 4 KiB.
void check_pnm_header(const std::string& path) {
  char buf[4096];
  std::ifstream in(path, std::ios::binary);
  in.read(buf, sizeof buf);
  const std::size_t n = static_cast<std::size_t>(in.gcount());
  if (n < 2 || buf[0] != 'P' || (buf[1] != '5' && buf[1] != '6')) return;  // not for stb's PNM
  std::size_t i = 2;
  for (int field = 0; field < 3; ++field) {
    while (i < n && (std::isspace(static_cast<unsigned char>(buf[i])) || buf[i] == '#')) {
      if (buf[i] == '#') {
        while (i < n && buf[i] != '\n' && buf[i] != '\r') ++i;
      } else {
        ++i;
      }
    }
    std::size_t digits = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(buf[i]))) ++i, ++digits;
    if (digits > 9) throw InputError(path + ": cannot decode image (PNM header number too long)");
    if (i == n) throw InputError(path + ": cannot decode image (PNM header too long)");
    if (digits == 0) return;  // stb rejects it
  }
}

// Decodes an image file to HWC floats. Gray+alpha and RGBA lose their alpha channel (as PIL's
// convert("L") / convert("RGB") do), so every sample has 1 or 3 channels.
RawSample decode_image(const std::string& path) {
  check_pnm_header(path);
  int w = 0, h = 0, c = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &c, 0);
  if (data == nullptr) {
    const char* why = stbi_failure_reason();
    throw InputError(path + ": cannot decode image (" + (why ? why : "unknown error") + ")");
  }
  std::unique_ptr<unsigned char, void (*)(void*)> owner(data, stbi_image_free);
  RawSample s;
  s.height = h;
  s.width = w;
  s.channels = c <= 2 ? 1 : 3;
  const std::size_t pixels = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  s.pixels.resize(pixels * static_cast<std::size_t>(s.channels));
  for (std::size_t p = 0; p < pixels; ++p) {
    for (int k = 0; k < s.channels; ++k) {
      s.pixels[p * static_cast<std::size_t>(s.channels) + static_cast<std::size_t>(k)] =
          data[p * static_cast<std::size_t>(c) + static_cast<std::size_t>(k)];
    }
  }
  return s;
}

struct ImageEntry {
  std::string path;
  std::int64_t label = -1;
  bool has_roi = false;
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // inclusive, as in GTSRB
  std::int64_t csv_line = 0;
};

class ImageListDataset final : public Dataset {
 public:
  ImageListDataset(std::vector<ImageEntry> entries, std::int64_t num_classes,
                   std::string description, std::string csv)
      : entries_(std::move(entries)),
        num_classes_(num_classes),
        description_(std::move(description)),
        csv_(std::move(csv)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(entries_.size()); }
  std::int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override { return description_; }

  RawSample get(std::int64_t i) const override {
    if (i < 0 || i >= size())
      throw InputError(description_ + ": sample " + std::to_string(i) + " out of range");
    const ImageEntry& e = entries_[static_cast<std::size_t>(i)];
    RawSample s = decode_image(e.path);
    s.label = e.label;
    if (e.has_roi) crop_roi(s, e);
    return s;
  }

 private:
  void crop_roi(RawSample& s, const ImageEntry& e) const {
    if (e.x2 >= s.width || e.y2 >= s.height) {
      throw InputError(e.path + ": ROI (" + std::to_string(e.x1) + "," + std::to_string(e.y1) +
                       ")-(" + std::to_string(e.x2) + "," + std::to_string(e.y2) + ") from " +
                       csv_ + " line " + std::to_string(e.csv_line) + " lies outside the " +
                       std::to_string(s.width) + "x" + std::to_string(s.height) + " image");
    }
    const int w = e.x2 - e.x1 + 1, h = e.y2 - e.y1 + 1, c = s.channels;
    std::vector<float> out(static_cast<std::size_t>(w) * h * c);
    for (int y = 0; y < h; ++y) {
      const float* src =
          s.pixels.data() + (static_cast<std::size_t>(y + e.y1) * s.width + e.x1) * c;
      std::copy(src, src + static_cast<std::size_t>(w) * c,
                out.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(y) * w * c));
    }
    s.pixels = std::move(out);
    s.width = w;
    s.height = h;
  }

  std::vector<ImageEntry> entries_;
  std::int64_t num_classes_;
  std::string description_;
  std::string csv_;  // gtsrb: the annotation file, for ROI errors
};

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::vector<std::string> split_fields(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = line.find(sep, start);
    fields.push_back(trim(std::string_view(line).substr(start, end - start)));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return fields;
}

bool parse_int(const std::string& s, std::int64_t& v) {
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  return r.ec == std::errc() && r.ptr == end;
}

}  // namespace

std::unique_ptr<Dataset> open_image_folder(const DatasetConfig& config) {
  const std::string& root = single_path(config);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw InputError(root + (fs::exists(root, ec) ? ": not a folder" : ": no such folder"));
  }
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec)) classes.push_back(entry.path().filename().string());
  }
  if (ec) throw InputError(root + ": cannot list folder (" + ec.message() + ")");
  if (classes.empty()) throw InputError(root + ": no class subfolders");
  std::sort(classes.begin(), classes.end());

  std::vector<ImageEntry> entries;
  for (std::size_t label = 0; label < classes.size(); ++label) {
    const fs::path dir = fs::path(root) / classes[label];
    // Sorted by (folder, file name), which is torchvision's order: sorted(os.walk(...)), then
    // sorted file names within each folder.
    std::vector<std::pair<std::string, std::string>> files;
    const auto opts = fs::directory_options::follow_directory_symlink;
    for (auto it = fs::recursive_directory_iterator(dir, opts, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && has_image_extension(it->path())) {
        files.emplace_back(it->path().parent_path().string(), it->path().filename().string());
      }
    }
    if (ec) throw InputError(dir.string() + ": cannot list folder (" + ec.message() + ")");
    std::sort(files.begin(), files.end());
    for (const auto& [folder, name] : files) {
      entries.push_back({(fs::path(folder) / name).string(), static_cast<std::int64_t>(label)});
    }
  }
  if (entries.empty()) {
    throw InputError(root + ": no images (.jpg .jpeg .png .ppm .pgm .bmp) in its " +
                     std::to_string(classes.size()) + " class subfolders");
  }
  const std::string description = "images " + root + " (" + std::to_string(entries.size()) +
                                  " samples, " + std::to_string(classes.size()) + " classes)";
  return std::make_unique<ImageListDataset>(
      std::move(entries), static_cast<std::int64_t>(classes.size()), description, std::string());
}

std::unique_ptr<Dataset> open_gtsrb(const DatasetConfig& config) {
  const std::string& csv = single_path(config);
  std::error_code ec;
  if (!fs::is_regular_file(csv, ec)) {
    throw InputError(csv + (fs::exists(csv, ec) ? ": not a regular file" : ": no such file"));
  }
  std::ifstream in(csv);
  if (!in) throw InputError(csv + ": cannot open file");
  const fs::path base = fs::path(csv).parent_path();

  std::string line;
  std::int64_t line_no = 0;
  auto next_line = [&]() -> bool {
    while (std::getline(in, line)) {
      ++line_no;
      if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!trim(line).empty()) return true;
    }
    return false;
  };
  if (!next_line()) throw InputError(csv + ": empty file (expected a header line)");
  // GTSRB's own files use ';', the Kaggle re-packaging uses ','.
  const char sep = line.find(';') != std::string::npos ? ';' : ',';
  const std::vector<std::string> header = split_fields(line, sep);
  auto column = [&](const std::string& name) -> int {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (lower(header[i]) == lower(name)) return static_cast<int>(i);
    }
    return -1;
  };
  int col_file = column("Filename");
  if (col_file < 0) col_file = column("Path");
  if (col_file < 0) throw InputError(csv + ": no 'Filename' or 'Path' column in the header");
  const int col_class = column("ClassId");
  if (col_class < 0) throw InputError(csv + ": no 'ClassId' column in the header");
  const char* roi_names[4] = {"Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"};
  int col_roi[4];
  int roi_found = 0;
  for (int k = 0; k < 4; ++k) {
    col_roi[k] = column(roi_names[k]);
    roi_found += col_roi[k] >= 0;
  }
  if (roi_found != 0 && roi_found != 4) {
    for (int k = 0; k < 4; ++k) {
      if (col_roi[k] < 0) {
        throw InputError(csv + ": has ROI columns but no '" + std::string(roi_names[k]) +
                         "' column");
      }
    }
  }
  const bool has_roi = roi_found == 4;

  std::vector<ImageEntry> entries;
  while (next_line()) {
    const std::vector<std::string> f = split_fields(line, sep);
    const std::string where = csv + " line " + std::to_string(line_no);
    if (f.size() != header.size()) {
      throw InputError(where + ": " + std::to_string(f.size()) + " fields, the header has " +
                       std::to_string(header.size()));
    }
    ImageEntry e;
    e.csv_line = line_no;
    if (f[col_file].empty()) throw InputError(where + ": empty image path");
    e.path = (base / f[col_file]).string();
    if (!parse_int(f[col_class], e.label) || e.label < 0) {
      throw InputError(where + ": ClassId '" + f[col_class] + "' is not a non-negative integer");
    }
    if (has_roi) {
      std::int64_t v[4];
      for (int k = 0; k < 4; ++k) {
        if (!parse_int(f[col_roi[k]], v[k]) || v[k] < 0 || v[k] > (1 << 30)) {
          throw InputError(where + ": " + roi_names[k] + " '" + f[col_roi[k]] +
                           "' is not a non-negative integer");
        }
      }
      if (v[0] > v[2] || v[1] > v[3]) {
        throw InputError(where + ": empty ROI (Roi.X1 > Roi.X2 or Roi.Y1 > Roi.Y2)");
      }
      e.has_roi = true;
      e.x1 = static_cast<int>(v[0]);
      e.y1 = static_cast<int>(v[1]);
      e.x2 = static_cast<int>(v[2]);
      e.y2 = static_cast<int>(v[3]);
    }
    if (!fs::is_regular_file(e.path, ec)) {
      throw InputError(where + ": image " + e.path + " not found");
    }
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw InputError(csv + ": no samples after the header");
  const std::string description =
      "gtsrb " + csv + " (" + std::to_string(entries.size()) + " samples)";
  return std::make_unique<ImageListDataset>(std::move(entries), -1, description, csv);
}

}  // namespace dnnfi::dataset_detail
