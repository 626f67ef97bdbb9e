// Array-style dataset readers: .npy/.npz arrays, IDX files (MNIST family) and CIFAR binary
// batches, plus the format names and open_dataset's dispatch. Image folders and GTSRB live in
// dataset_images.cpp.
#include "campaign/dataset.h"

#include <fmt/format.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "campaign/dataset_readers.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/zip_entry.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;

constexpr std::array<std::pair<DatasetFormat, const char*>, 7> kFormatNames = {{
    {DatasetFormat::kNpy, "npy"},
    {DatasetFormat::kNpz, "npz"},
    {DatasetFormat::kIdx, "idx"},
    {DatasetFormat::kCifar10, "cifar10"},
    {DatasetFormat::kCifar100, "cifar100"},
    {DatasetFormat::kImages, "images"},
    {DatasetFormat::kGtsrb, "gtsrb"},
}};

void require_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw InputError(path + (fs::exists(path, ec) ? ": not a regular file" : ": no such file"));
  }
}

// Sample labels from an array: one integer per sample (shape [N] or [N,1]), of any integer dtype
// or a float dtype holding whole numbers (labels saved from float arrays are common).
std::vector<std::int64_t> labels_from_array(const Tensor& t, const std::string& what) {
  const bool column = t.rank() == 2 && t.dim(1) == 1;
  if (t.rank() != 1 && !column) {
    throw InputError(what + ": labels must be one integer per sample (shape [N]), got shape " +
                     shape_to_string(t.shape()));
  }
  const bool is_float =
      t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64 || t.dtype() == DType::kFloat16;
  if (t.dtype() == DType::kBool) throw InputError(what + ": labels are bool, not integers");
  std::vector<std::int64_t> labels(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (is_float) {
      const double d = t.get_as_double(i);
      if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
        throw InputError(what + ": label of sample " + std::to_string(i) + " is " +
                         std::to_string(d) + ", not an integer");
      }
    }
    labels[static_cast<std::size_t>(i)] = t.get_as_int64(i);
  }
  return labels;
}

enum class ArrayLayout { kTensor, kHwc, kChw, kHw };

ArrayLayout parse_array_layout(const std::string& s) {
  if (s == "tensor") return ArrayLayout::kTensor;
  if (s == "hwc") return ArrayLayout::kHwc;
  if (s == "chw") return ArrayLayout::kChw;
  if (s == "hw") return ArrayLayout::kHw;
  throw InputError("dataset.layout '" + s + "' is not one of tensor, hwc, chw, hw");
}

// A whole data array and its labels in memory (.npy, .npz); sample i is the i-th slice along the
// first axis.
class ArrayDataset final : public Dataset {
 public:
  ArrayDataset(Tensor data, std::vector<std::int64_t> labels, ArrayLayout layout,
               std::string data_what, const std::string& labels_what, std::string description)
      : data_(std::move(data)),
        labels_(std::move(labels)),
        layout_(layout),
        data_what_(std::move(data_what)),
        description_(std::move(description)) {
    if (data_.rank() == 0 || data_.dim(0) == 0) {
      throw InputError(data_what_ + ": data array holds no samples (shape " +
                       shape_to_string(data_.shape()) + ")");
    }
    if (data_.dtype() == DType::kBool || data_.dtype() == DType::kBFloat16) {
      throw InputError(data_what_ + ": data dtype " + std::string(dtype_name(data_.dtype())) +
                       " is not numeric");
    }
    const std::size_t want_rank = layout_ == ArrayLayout::kTensor ? 0
                                  : layout_ == ArrayLayout::kHw   ? 3
                                                                  : 4;
    if (want_rank != 0 && data_.rank() != want_rank) {
      throw InputError(data_what_ + ": layout " + layout_name() + " needs a rank-" +
                       std::to_string(want_rank) + " array (samples first), got shape " +
                       shape_to_string(data_.shape()));
    }
    sample_shape_.assign(data_.shape().begin() + 1, data_.shape().end());
    if (layout_ == ArrayLayout::kHwc || layout_ == ArrayLayout::kChw) {
      const std::int64_t c = layout_ == ArrayLayout::kHwc ? sample_shape_[2] : sample_shape_[0];
      if (c != 1 && c != 3) {
        throw InputError(data_what_ + ": layout " + layout_name() +
                         " needs 1 or 3 channels, got shape " + shape_to_string(data_.shape()));
      }
    }
    if (!labels_.empty() && static_cast<std::int64_t>(labels_.size()) != data_.dim(0)) {
      throw InputError(data_what_ + " has " + std::to_string(data_.dim(0)) + " samples but " +
                       labels_what + " has " + std::to_string(labels_.size()) + " labels");
    }
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      dataset_detail::check_label(labels_[i], -1, labels_what, static_cast<std::int64_t>(i));
    }
    description_ += " (" + std::to_string(size()) + " samples)";
  }

  std::int64_t size() const override { return data_.dim(0); }
  std::int64_t num_classes() const override { return -1; }
  std::string describe() const override { return description_; }

  RawSample get(std::int64_t i) const override {
    if (i < 0 || i >= size())
      throw InputError(data_what_ + ": sample " + std::to_string(i) + " out of range [0, " +
                       std::to_string(size()) + ")");
    const std::int64_t n = shape_numel(sample_shape_);
    const std::int64_t base = i * n;
    RawSample s;
    s.label = labels_.empty() ? -1 : labels_[static_cast<std::size_t>(i)];
    // Element k of the sample as float: float32 data as is, other dtypes through double.
    const float* f32 = data_.dtype() == DType::kFloat32 ? data_.data<float>() + base : nullptr;
    auto value = [&](std::int64_t k) {
      return f32 != nullptr ? f32[k] : static_cast<float>(data_.get_as_double(base + k));
    };
    if (layout_ == ArrayLayout::kTensor) {
      s.is_image = false;
      s.tensor = Tensor(DType::kFloat32, sample_shape_);
      float* out = s.tensor.data<float>();
      for (std::int64_t k = 0; k < n; ++k) out[k] = value(k);
      return s;
    }
    s.is_image = true;
    if (layout_ == ArrayLayout::kChw) {
      s.channels = static_cast<int>(sample_shape_[0]);
      s.height = static_cast<int>(sample_shape_[1]);
      s.width = static_cast<int>(sample_shape_[2]);
    } else {
      s.height = static_cast<int>(sample_shape_[0]);
      s.width = static_cast<int>(sample_shape_[1]);
      s.channels = layout_ == ArrayLayout::kHw ? 1 : static_cast<int>(sample_shape_[2]);
    }
    s.pixels.resize(static_cast<std::size_t>(n));
    if (layout_ == ArrayLayout::kChw) {
      const std::int64_t plane = static_cast<std::int64_t>(s.height) * s.width;
      for (int c = 0; c < s.channels; ++c) {
        for (std::int64_t p = 0; p < plane; ++p) {
          s.pixels[static_cast<std::size_t>(p * s.channels + c)] = value(c * plane + p);
        }
      }
    } else {
      for (std::int64_t k = 0; k < n; ++k) s.pixels[static_cast<std::size_t>(k)] = value(k);
    }
    return s;
  }

 private:
  std::string layout_name() const {
    switch (layout_) {
      case ArrayLayout::kTensor:
        return "tensor";
      case ArrayLayout::kHwc:
        return "hwc";
      case ArrayLayout::kChw:
        return "chw";
      case ArrayLayout::kHw:
        return "hw";
    }
    return "tensor";
  }

  Tensor data_;
  std::vector<std::int64_t> labels_;
  ArrayLayout layout_;
  std::string data_what_;
  std::string description_;
  Shape sample_shape_;
};

std::unique_ptr<Dataset> open_npy(const DatasetConfig& config) {
  const std::string& path = dataset_detail::single_path(config);
  const ArrayLayout layout = parse_array_layout(config.array_layout);
  require_file(path);
  Tensor data = load_npy(path);
  // Without a labels file the samples are unlabelled (label -1): SDC rates need none.
  std::vector<std::int64_t> labels;
  if (!config.labels.empty()) {
    require_file(config.labels);
    labels = labels_from_array(load_npy(config.labels), config.labels);
  }
  return std::make_unique<ArrayDataset>(std::move(data), std::move(labels), layout, path,
                                        config.labels, "npy " + path);
}

// A libzip archive, closed on every path out.
struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

// The keys numpy.savez wrote (member names minus ".npy"), for "unknown key" errors.
std::string npz_keys(zip_t* z) {
  std::string keys;
  const zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) continue;
    std::string key = name;
    if (key.size() > 4 && key.ends_with(".npy")) key.resize(key.size() - 4);
    keys += (keys.empty() ? "" : ", ") + key;
  }
  return keys.empty() ? "none" : keys;
}

Tensor read_npz_member(zip_t* z, const std::string& path, const std::string& key) {
  const std::string what = path + ": key '" + key + "'";
  zip_int64_t idx = zip_name_locate(z, (key + ".npy").c_str(), 0);
  if (idx < 0) idx = zip_name_locate(z, key.c_str(), 0);
  if (idx < 0) {
    throw InputError(path + ": no array '" + key + "' in the .npz (keys: " + npz_keys(z) + ")");
  }
  const std::string bytes = read_zip_entry<InputError>(z, static_cast<zip_uint64_t>(idx), what);
  return parse_npy(bytes, what);
}

std::unique_ptr<Dataset> open_npz(const DatasetConfig& config) {
  const std::string& path = dataset_detail::single_path(config);
  const ArrayLayout layout = parse_array_layout(config.array_layout);
  require_file(path);
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_open(path.c_str(), ZIP_RDONLY, &err));
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw InputError(path + ": not a readable .npz (zip) archive (" + why + ")");
  }
  Tensor data = read_npz_member(z.get(), path, config.data_key);
  const std::string labels_what = path + ": key '" + config.labels_key + "'";
  auto labels = labels_from_array(read_npz_member(z.get(), path, config.labels_key), labels_what);
  return std::make_unique<ArrayDataset>(std::move(data), std::move(labels), layout,
                                        path + ": key '" + config.data_key + "'", labels_what,
                                        "npz " + path);
}

std::uint32_t read_be32(const unsigned char* b) {
  return (static_cast<std::uint32_t>(b[0]) << 24) | (static_cast<std::uint32_t>(b[1]) << 16) |
         (static_cast<std::uint32_t>(b[2]) << 8) | static_cast<std::uint32_t>(b[3]);
}

// An IDX file's data must fit this (Fashion-MNIST's test images take 7.8 MB).
constexpr std::int64_t kMaxIdxBytes = std::int64_t{1} << 32;

// An IDX file (plain or gzip: zlib's gzread passes plain files through) read as its header
// says: the header first, then exactly the bytes it declares, so a gzip bomb or a lying header
// never makes the reader hold more than the declared size.
struct IdxFile {
  std::vector<std::int64_t> dims;
  std::string data;
};

class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    require_file(path);
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr) throw InputError(path + ": cannot open file");
  }
  ~GzReader() { gzclose(f_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into p; returns how many were read (fewer only at the end of the data).
  std::size_t read(char* p, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const unsigned want = static_cast<unsigned>(std::min<std::size_t>(n - got, 1 << 20));
      const int r = gzread(f_, p + got, want);
      if (r < 0 || (r == 0 && !gzeof(f_))) {
        int err = Z_OK;
        const char* msg = gzerror(f_, &err);
        throw InputError(path_ + ": corrupt or truncated gzip data (" +
                         std::string(msg != nullptr ? msg : "read error") + ")");
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
};

// Reads an unsigned-byte IDX file with `ndims` dims.
IdxFile read_idx(const std::string& path, int ndims) {
  const std::uint32_t want = 0x0800u | static_cast<std::uint32_t>(ndims);
  const char* kind = ndims == 1 ? "labels" : "images";
  GzReader in(path);
  std::array<unsigned char, 4 + 4 * 3> header{};
  const std::size_t header_size = 4 + 4 * static_cast<std::size_t>(ndims);
  const std::size_t got = in.read(reinterpret_cast<char*>(header.data()), header_size);
  if (got < 4)
    throw InputError(path + ": not an IDX file (only " + std::to_string(got) + " bytes)");
  const std::uint32_t magic = read_be32(header.data());
  if (magic != want) {
    throw InputError(fmt::format("{}: bad IDX magic 0x{:08x} (expected 0x{:08x} for {})", path,
                                 magic, want, kind));
  }
  if (got < header_size) throw InputError(path + ": truncated IDX header");
  IdxFile file;
  for (int d = 0; d < ndims; ++d) file.dims.push_back(read_be32(header.data() + 4 + 4 * d));
  std::int64_t numel = 1;
  for (std::int64_t d : file.dims) {
    if (d != 0 && numel > kMaxIdxBytes / d) {
      throw InputError(path + ": IDX dims " + shape_to_string(file.dims) + " exceed " +
                       std::to_string(kMaxIdxBytes) + " bytes");
    }
    numel *= d;
  }
  // Grow with the data actually there, not with the header's claim.
  constexpr std::size_t kChunk = std::size_t{1} << 24;
  const auto need = static_cast<std::size_t>(numel);
  while (file.data.size() < need) {
    const std::size_t old = file.data.size();
    file.data.resize(std::min(need, old + kChunk));
    const std::size_t n = in.read(file.data.data() + old, file.data.size() - old);
    if (n < file.data.size() - old) {
      throw InputError(fmt::format("{}: truncated IDX data ({} bytes, header {} needs {})", path,
                                   old + n, shape_to_string(file.dims), need));
    }
  }
  char extra = 0;
  if (in.read(&extra, 1) != 0) {
    throw InputError(fmt::format("{}: oversized IDX data (more than the {} bytes header {} needs)",
                                 path, need, shape_to_string(file.dims)));
  }
  return file;
}

// IDX images (N x H x W, uint8) and labels, decoded up front: Fashion-MNIST's test set is 7.8 MB.
class IdxDataset final : public Dataset {
 public:
  explicit IdxDataset(const DatasetConfig& config) : path_(dataset_detail::single_path(config)) {
    IdxFile images = read_idx(path_, 3);
    images_ = std::move(images.data);
    count_ = images.dims[0];
    if (count_ == 0) throw InputError(path_ + ": IDX file holds no images");
    if (images.dims[1] < 1 || images.dims[2] < 1 ||
        images.dims[1] > dataset_detail::kMaxImageSide ||
        images.dims[2] > dataset_detail::kMaxImageSide) {
      throw InputError(fmt::format("{}: IDX images of {}x{} pixels (each side must be 1..{})",
                                   path_, images.dims[1], images.dims[2],
                                   dataset_detail::kMaxImageSide));
    }
    height_ = static_cast<int>(images.dims[1]);
    width_ = static_cast<int>(images.dims[2]);
    if (config.labels.empty()) return;  // unlabelled: every sample's label is -1
    const IdxFile labels = read_idx(config.labels, 1);
    if (labels.dims[0] != count_) {
      throw InputError(path_ + " has " + std::to_string(count_) + " images but " + config.labels +
                       " has " + std::to_string(labels.dims[0]) + " labels");
    }
    labels_.assign(labels.data.begin(), labels.data.end());
  }

  std::int64_t size() const override { return count_; }
  std::int64_t num_classes() const override { return -1; }
  std::string describe() const override {
    return "idx " + path_ + " (" + std::to_string(count_) + " samples)";
  }

  RawSample get(std::int64_t i) const override {
    if (i < 0 || i >= count_)
      throw InputError(path_ + ": sample " + std::to_string(i) + " out of range [0, " +
                       std::to_string(count_) + ")");
    RawSample s;
    s.height = height_;
    s.width = width_;
    s.channels = 1;
    s.label = labels_.empty() ? -1 : labels_[static_cast<std::size_t>(i)];
    const std::size_t n = static_cast<std::size_t>(height_) * static_cast<std::size_t>(width_);
    const auto* p =
        reinterpret_cast<const unsigned char*>(images_.data()) + static_cast<std::size_t>(i) * n;
    s.pixels.assign(p, p + n);
    return s;
  }

 private:
  std::string path_;
  std::string images_;  // the decompressed pixels, image after image
  std::int64_t count_ = 0;
  int height_ = 0, width_ = 0;
  std::vector<std::uint8_t> labels_;
};

// CIFAR binary batches: fixed-size records of label byte(s) + 3x32x32 planar RGB. Labels are read
// at open time (to check them); pixels are read from the file per sample.
class CifarDataset final : public Dataset {
 public:
  static constexpr int kSide = 32;
  static constexpr std::int64_t kPixelBytes = 3 * kSide * kSide;

  explicit CifarDataset(const DatasetConfig& config)
      : format_(config.format),
        label_bytes_(config.format == DatasetFormat::kCifar100 ? 2 : 1),
        // CIFAR-100 records are <coarse label><fine label><pixels>.
        label_at_(config.format == DatasetFormat::kCifar100 && config.cifar_fine_labels ? 1 : 0),
        num_classes_(config.format == DatasetFormat::kCifar10 ? 10
                     : config.cifar_fine_labels               ? 100
                                                              : 20) {
    if (config.paths.empty())
      throw InputError("dataset.path: a CIFAR dataset needs batch file paths");
    const std::int64_t rec = record_size();
    const char* name = format_ == DatasetFormat::kCifar10 ? "CIFAR-10" : "CIFAR-100";
    std::vector<char> buf;
    for (const std::string& path : config.paths) {
      require_file(path);
      const auto bytes = static_cast<std::int64_t>(fs::file_size(path));
      if (bytes % rec != 0 || bytes == 0) {
        throw InputError(path + ": size " + std::to_string(bytes) + " is not a multiple of the " +
                         name + " record size " + std::to_string(rec));
      }
      std::ifstream in(path, std::ios::binary);
      if (!in) throw InputError(path + ": cannot open file");
      const std::int64_t records = bytes / rec;
      constexpr std::int64_t kChunk = 1024;  // records per read
      for (std::int64_t r0 = 0; r0 < records; r0 += kChunk) {
        const std::int64_t n = std::min(kChunk, records - r0);
        buf.resize(static_cast<std::size_t>(n * rec));
        if (!in.read(buf.data(), static_cast<std::streamsize>(buf.size()))) {
          throw InputError(path + ": read error");
        }
        for (std::int64_t r = 0; r < n; ++r) {
          const std::int64_t label = static_cast<unsigned char>(buf[r * rec + label_at_]);
          dataset_detail::check_label(label, num_classes_, path, r0 + r);
          labels_.push_back(label);
        }
      }
      paths_.push_back(path);
      ends_.push_back(static_cast<std::int64_t>(labels_.size()));
    }
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }
  std::int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override {
    std::string files;
    for (const auto& p : paths_) files += (files.empty() ? "" : ", ") + p;
    return dataset_format_name(format_) + " " + files + " (" + std::to_string(size()) + " samples)";
  }

  RawSample get(std::int64_t i) const override {
    if (i < 0 || i >= size())
      throw InputError(paths_.front() + ": sample " + std::to_string(i) + " out of range [0, " +
                       std::to_string(size()) + ")");
    const std::size_t file =
        static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), i) - ends_.begin());
    const std::int64_t record = i - (file == 0 ? 0 : ends_[file - 1]);
    const std::string& path = paths_[file];
    // A stream per call keeps get() thread-safe without locks; the open is cheap next to the
    // inference that follows.
    std::ifstream in(path, std::ios::binary);
    std::array<unsigned char, kPixelBytes> planar;
    in.seekg(record * record_size() + label_bytes_);
    if (!in.read(reinterpret_cast<char*>(planar.data()), kPixelBytes)) {
      throw InputError(path + ": cannot read record " + std::to_string(record) +
                       " (file changed since it was opened?)");
    }
    RawSample s;
    s.height = s.width = kSide;
    s.channels = 3;
    s.label = labels_[static_cast<std::size_t>(i)];
    s.pixels.resize(kPixelBytes);
    constexpr int kPlane = kSide * kSide;
    for (int p = 0; p < kPlane; ++p) {
      for (int c = 0; c < 3; ++c) s.pixels[p * 3 + c] = planar[c * kPlane + p];
    }
    return s;
  }

 private:
  std::int64_t record_size() const { return label_bytes_ + kPixelBytes; }

  DatasetFormat format_;
  int label_bytes_;
  int label_at_;
  std::int64_t num_classes_;
  std::vector<std::string> paths_;
  std::vector<std::int64_t> ends_;  // cumulative record counts, one per file
  std::vector<std::int64_t> labels_;
};

}  // namespace

namespace dataset_detail {

const std::string& single_path(const DatasetConfig& config) {
  if (config.paths.size() != 1) {
    throw InputError("dataset.path: format " + dataset_format_name(config.format) +
                     " takes exactly one path, got " + std::to_string(config.paths.size()));
  }
  return config.paths.front();
}

void check_label(std::int64_t label, std::int64_t num_classes, const std::string& file,
                 std::int64_t sample) {
  if (label < 0 || (num_classes >= 0 && label >= num_classes)) {
    throw InputError(file + ": sample " + std::to_string(sample) + " has label " +
                     std::to_string(label) + ", outside [0, " +
                     (num_classes >= 0 ? std::to_string(num_classes) : std::string("inf")) + ")");
  }
}

}  // namespace dataset_detail

DatasetFormat parse_dataset_format(const std::string& s) {
  for (const auto& [format, name] : kFormatNames) {
    if (s == name) return format;
  }
  throw InputError("dataset format '" + s +
                   "' is not one of npy, npz, idx, cifar10, cifar100, images, gtsrb");
}

std::string dataset_format_name(DatasetFormat f) {
  for (const auto& [format, name] : kFormatNames) {
    if (f == format) return name;
  }
  return "unknown";
}

std::unique_ptr<Dataset> open_dataset(const DatasetConfig& config) {
  switch (config.format) {
    case DatasetFormat::kNpy:
      return open_npy(config);
    case DatasetFormat::kNpz:
      return open_npz(config);
    case DatasetFormat::kIdx:
      return std::make_unique<IdxDataset>(config);
    case DatasetFormat::kCifar10:
    case DatasetFormat::kCifar100:
      return std::make_unique<CifarDataset>(config);
    case DatasetFormat::kImages:
      return dataset_detail::open_image_folder(config);
    case DatasetFormat::kGtsrb:
      return dataset_detail::open_gtsrb(config);
  }
  throw InputError("dataset: unknown format");
}

}  // namespace dnnfi
