// Labeled datasets for campaigns, and the preprocessing that turns one sample into the model's
// input tensor. Readers: .npy/.npz arrays with labels, IDX (MNIST / Fashion-MNIST, optionally
// gzip-compressed), CIFAR-10/100 binary batches, image folders (one subfolder per class,
// JPEG/PNG/PPM/PGM/BMP via stb_image), GTSRB-style CSV annotations. Readers index the data at
// open time (errors name the file) and decode one sample at a time, so a 10,000-image folder is
// not held in memory. Formats and preprocessing order: docs/datasets.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dnnfi {

enum class DatasetFormat : std::uint8_t { kNpy, kNpz, kIdx, kCifar10, kCifar100, kImages, kGtsrb };

// Parses "npy", "npz", "idx", "cifar10", "cifar100", "images", "gtsrb"; throws InputError.
DatasetFormat parse_dataset_format(const std::string& s);
std::string dataset_format_name(DatasetFormat f);

struct DatasetConfig {
  DatasetFormat format = DatasetFormat::kIdx;
  // npy: the data array (.npy); npz: the archive; idx: the images file; cifar*: one or more batch
  // files; images: the root folder; gtsrb: the CSV file (image paths are relative to its folder).
  std::vector<std::string> paths;
  // npy: labels .npy (one integer per sample, any integer dtype or whole-valued floats); idx: the
  // labels file; others: unused. Negative labels are rejected at open time. npy and idx data
  // without one are unlabelled: every sample's label is -1 (SDC rates compare with the fault-free
  // answer and need no label; Top-1 accuracy is then n/a).
  std::string labels;
  std::string data_key = "x";  // npz: array names
  std::string labels_key = "y";
  // npy/npz arrays: how one sample is laid out. "tensor": already in the model input's layout
  // (only scale/mean/std apply, per channel on the input's channel axis: 1 for NCHW, the last for
  // NHWC); "hwc", "chw", "hw": an image (1 or 3 channels) that goes through the full
  // preprocessing pipeline.
  std::string array_layout = "tensor";
  bool cifar_fine_labels = true;  // cifar100: fine (100) or coarse (20) labels
};

// One decoded sample before preprocessing.
struct RawSample {
  // kind image: height x width x channels (1 or 3; alpha is dropped), interleaved (HWC), values
  // as stored (0..255 for 8-bit images). kind tensor: `tensor` holds the sample as float32 (no
  // batch dim).
  bool is_image = true;
  int height = 0, width = 0, channels = 0;
  std::vector<float> pixels;
  Tensor tensor;
  std::int64_t label = -1;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // cifar10: 10; cifar100: 100 (fine) or 20 (coarse); images: the number of class subfolders;
  // -1 when the format does not say (npy, npz, idx, gtsrb).
  virtual std::int64_t num_classes() const = 0;
  // Decodes sample i (0 <= i < size()). Throws InputError naming the file on corrupt data.
  // Thread-safe: several threads may decode at once.
  virtual RawSample get(std::int64_t i) const = 0;
  virtual std::string describe() const = 0;  // "idx /path (10000 samples)" for logs
};

// Opens and indexes the dataset; throws InputError naming the file/key at fault (missing file,
// bad magic, truncated data, label count that does not match, unknown npz key...).
std::unique_ptr<Dataset> open_dataset(const DatasetConfig& config);

struct PreprocessConfig {
  bool grayscale = false;        // convert to one channel (ITU-R 601 luma) before anything else
  bool bgr = false;              // reorder RGB to BGR (Caffe-style models)
  std::vector<int> resize;       // [h, w] bilinear (half-pixel centres), or [s]: shorter side to s
  std::vector<int> center_crop;  // [h, w] or [s] (square), as torchvision's CenterCrop
  double scale = 1.0;            // multiply every value (e.g. 1/255) before mean/std
  std::vector<double> mean;      // per channel (or one value for all): (x*scale - mean) / std
  std::vector<double> std;
  bool nhwc = false;  // model input layout; default NCHW
};

// Turns a sample into a float32 tensor of `input_shape` ([1,C,H,W] or [1,H,W,C], or any shape
// for "tensor" samples whose element count matches; a dim < 0 takes what the sample gives). A
// 1-channel image for a 3-channel input is replicated. `what` names the sample in errors, which
// read "<what> gives [1,3,32,32] but the model input is [1,1,28,28]"; bad mean/std lengths
// (neither 1 nor the channel count) are InputErrors too.
Tensor preprocess_sample(const RawSample& sample, const PreprocessConfig& config,
                         const Shape& input_shape, const std::string& what);

}  // namespace dnnfi
