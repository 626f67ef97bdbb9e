// Dataset readers and preprocessing against independent oracles: the fixtures under
// tests/campaign/data are written by scripts/make_dataset_fixtures.py with numpy, struct, PIL and
// torchvision (see its docstring), and Debian's real Fashion-MNIST t10k files are checked against
// facts that numpy computed from them.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "campaign/dataset.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "core/npy.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(DNNFI_SOURCE_DIR) + "/tests/campaign/data";
const std::string kFashion = "/usr/share/datasets/fashion-mnist";

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(kData + "/expected/manifest.json");
    return nlohmann::json::parse(in);
  }();
  return m;
}

Tensor expected(const std::string& name) { return load_npy(kData + "/expected/" + name); }

// Runs `f`, which must throw InputError whose message contains every one of `parts`.
template <typename F>
void expect_input_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << msg << "\nlacks: " << p;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
  }
}

// Checks an image sample against elements [offset, offset + h*w*c) of `want` (HWC).
void expect_pixels(const RawSample& s, const Tensor& want, std::int64_t offset, int h, int w, int c,
                   double tol = 0.0) {
  ASSERT_TRUE(s.is_image);
  ASSERT_EQ(s.height, h);
  ASSERT_EQ(s.width, w);
  ASSERT_EQ(s.channels, c);
  ASSERT_EQ(s.pixels.size(), static_cast<std::size_t>(h) * w * c);
  double worst = 0;
  for (std::size_t k = 0; k < s.pixels.size(); ++k) {
    worst = std::max(
        worst, std::fabs(s.pixels[k] - want.get_as_double(offset + static_cast<std::int64_t>(k))));
  }
  EXPECT_LE(worst, tol);
}

// A whole expected image array: [H,W,C] or [H,W] (one channel).
void expect_image(const RawSample& s, const Tensor& want, double tol = 0.0) {
  const int c = want.rank() == 3 ? static_cast<int>(want.dim(2)) : 1;
  expect_pixels(s, want, 0, static_cast<int>(want.dim(0)), static_cast<int>(want.dim(1)), c, tol);
}

DatasetConfig config(DatasetFormat format, std::vector<std::string> paths,
                     std::string labels = "") {
  DatasetConfig c;
  c.format = format;
  c.paths = std::move(paths);
  c.labels = std::move(labels);
  return c;
}

TEST(DatasetFormat, NamesRoundTrip) {
  for (const char* name : {"npy", "npz", "idx", "cifar10", "cifar100", "images", "gtsrb"}) {
    EXPECT_EQ(dataset_format_name(parse_dataset_format(name)), name);
  }
  expect_input_error([] { parse_dataset_format("imagenet"); }, {"'imagenet'", "cifar10"});
}

// ---------------------------------------------------------------------------------------------
// .npy / .npz
// ---------------------------------------------------------------------------------------------

TEST(NpyDataset, ImageLayoutsGiveNumpysHwcPixels) {
  const Tensor want = expected("array_hwc_f32.npy");  // [3,4,5,3]
  const auto labels = manifest()["array_labels"].get<std::vector<std::int64_t>>();
  struct Case {
    const char* data;
    const char* layout;
    const char* labels;
  };
  for (const Case& k :
       {Case{"hwc.npy", "hwc", "labels.npy"}, Case{"chw.npy", "chw", "labels_float.npy"},
        Case{"hw.npy", "hw", "labels_u8.npy"}}) {
    SCOPED_TRACE(k.data);
    auto cfg = config(DatasetFormat::kNpy, {kData + "/npy/" + k.data}, kData + "/npy/" + k.labels);
    cfg.array_layout = k.layout;
    const auto ds = open_dataset(cfg);
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->num_classes(), -1);
    EXPECT_NE(ds->describe().find("3 samples"), std::string::npos);
    for (std::int64_t i = 0; i < 3; ++i) {
      const RawSample s = ds->get(i);
      EXPECT_EQ(s.label, labels[static_cast<std::size_t>(i)]);
      if (std::string(k.layout) == "hw") {
        // hw.npy is channel 0 of the HWC array.
        ASSERT_EQ(s.channels, 1);
        for (int p = 0; p < 20; ++p) EXPECT_EQ(s.pixels[p], want.get_as_double(i * 60 + p * 3));
      } else {
        expect_pixels(s, want, i * 60, 4, 5, 3);
      }
    }
  }
}

TEST(NpyDataset, TensorLayoutConvertsToFloat32) {
  const Tensor want = expected("tensor_f32.npy");  // numpy's float64 -> float32, [3,2,3,4]
  const auto ds = open_dataset(
      config(DatasetFormat::kNpy, {kData + "/npy/tensor_f64.npy"}, kData + "/npy/labels.npy"));
  ASSERT_EQ(ds->size(), 3);
  const RawSample s = ds->get(2);
  ASSERT_FALSE(s.is_image);
  EXPECT_EQ(s.tensor.shape(), (Shape{2, 3, 4}));
  ASSERT_EQ(s.tensor.dtype(), DType::kFloat32);
  for (std::int64_t k = 0; k < 24; ++k)
    EXPECT_EQ(s.tensor.data<float>()[k], want.data<float>()[48 + k]);
  EXPECT_EQ(s.label, 1);
}

TEST(NpyDataset, BadInputsNameTheFile) {
  const std::string d = kData + "/npy/";
  expect_input_error(
      [&] { open_dataset(config(DatasetFormat::kNpy, {d + "nope.npy"}, d + "labels.npy")); },
      {d + "nope.npy"});
  expect_input_error(
      [&] { open_dataset(config(DatasetFormat::kNpy, {d + "hwc.npy"}, d + "nope.npy")); },
      {d + "nope.npy"});
  expect_input_error(
      [&] { open_dataset(config(DatasetFormat::kNpy, {d + "hwc.npy"}, d + "labels_short.npy")); },
      {d + "hwc.npy", d + "labels_short.npy", "3 samples", "2 labels"});
  expect_input_error(
      [&] {
        open_dataset(config(DatasetFormat::kNpy, {d + "hwc.npy"}, d + "labels_negative.npy"));
      },
      {d + "labels_negative.npy", "sample 1", "-1"});
  expect_input_error(
      [&] {
        open_dataset(config(DatasetFormat::kNpy, {d + "hwc.npy"}, d + "labels_fraction.npy"));
      },
      {d + "labels_fraction.npy", "sample 1"});
  auto cfg = config(DatasetFormat::kNpy, {d + "hw.npy"}, d + "labels.npy");
  cfg.array_layout = "hwc";  // hw.npy is rank 3
  expect_input_error([&] { open_dataset(cfg); }, {d + "hw.npy", "hwc", "[3,4,5]"});
  cfg.array_layout = "nchw";
  expect_input_error([&] { open_dataset(cfg); }, {"'nchw'"});
}

TEST(NpzDataset, CompressedAndStoredArchives) {
  const Tensor want = expected("array_hwc_f32.npy");
  auto cfg = config(DatasetFormat::kNpz, {kData + "/npz/compressed.npz"});
  cfg.array_layout = "hwc";
  const auto ds = open_dataset(cfg);
  ASSERT_EQ(ds->size(), 3);
  for (std::int64_t i = 0; i < 3; ++i) expect_pixels(ds->get(i), want, i * 60, 4, 5, 3);
  EXPECT_EQ(ds->get(0).label, 2);

  auto cfg2 = config(DatasetFormat::kNpz, {kData + "/npz/stored.npz"});
  cfg2.data_key = "images";
  cfg2.labels_key = "targets";
  const auto ds2 = open_dataset(cfg2);
  const Tensor want16 = expected("tensor_f16_as_f32.npy");
  const RawSample s = ds2->get(1);
  ASSERT_FALSE(s.is_image);
  for (std::int64_t k = 0; k < 24; ++k)
    EXPECT_EQ(s.tensor.data<float>()[k], want16.data<float>()[24 + k]);
  EXPECT_EQ(s.label, 0);
}

TEST(NpzDataset, UnknownKeyNamesKeyFileAndKeysPresent) {
  const std::string path = kData + "/npz/compressed.npz";
  auto cfg = config(DatasetFormat::kNpz, {path});
  cfg.data_key = "images";
  expect_input_error([&] { open_dataset(cfg); }, {path, "'images'", "x, y"});
  cfg.data_key = "x";
  cfg.labels_key = "labels";
  expect_input_error([&] { open_dataset(cfg); }, {path, "'labels'", "x, y"});
  // A .npy is not a zip archive.
  expect_input_error([&] { open_dataset(config(DatasetFormat::kNpz, {kData + "/npy/hwc.npy"})); },
                     {kData + "/npy/hwc.npy"});
}

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

TEST(IdxDataset, PlainAndGzipMatchHandPackedFiles) {
  const Tensor want = expected("idx_images.npy");  // [3,4,5] uint8
  const auto labels = manifest()["idx_labels"].get<std::vector<std::int64_t>>();
  for (const std::string suffix : {"", ".gz"}) {
    SCOPED_TRACE("suffix '" + suffix + "'");
    const auto ds =
        open_dataset(config(DatasetFormat::kIdx, {kData + "/idx/images-idx3-ubyte" + suffix},
                            kData + "/idx/labels-idx1-ubyte" + suffix));
    ASSERT_EQ(ds->size(), 3);
    for (std::int64_t i = 0; i < 3; ++i) {
      const RawSample s = ds->get(i);
      expect_pixels(s, want, i * 20, 4, 5, 1);
      EXPECT_EQ(s.label, labels[static_cast<std::size_t>(i)]);
    }
  }
}

// Without a labels file, idx and npy samples are the same pixels, unlabelled (label -1).
TEST(IdxDataset, WithoutLabelsSamplesAreUnlabelled) {
  const Tensor idx = expected("idx_images.npy");
  const auto ds =
      open_dataset(config(DatasetFormat::kIdx, {kData + "/idx/images-idx3-ubyte.gz"}, ""));
  ASSERT_EQ(ds->size(), 3);
  const Tensor hwc = expected("array_hwc_f32.npy");
  auto cfg = config(DatasetFormat::kNpy, {kData + "/npy/hwc.npy"}, "");
  cfg.array_layout = "hwc";
  const auto npy = open_dataset(cfg);
  ASSERT_EQ(npy->size(), 3);
  for (std::int64_t i = 0; i < 3; ++i) {
    const RawSample s = ds->get(i);
    expect_pixels(s, idx, i * 20, 4, 5, 1);
    EXPECT_EQ(s.label, -1);
    const RawSample n = npy->get(i);
    expect_pixels(n, hwc, i * 60, 4, 5, 3);
    EXPECT_EQ(n.label, -1);
  }
}

TEST(IdxDataset, BadFilesNameTheFile) {
  const std::string d = kData + "/idx/";
  auto open = [&](const std::string& images, const std::string& labels) {
    return [=] { open_dataset(config(DatasetFormat::kIdx, {d + images}, d + labels)); };
  };
  expect_input_error(open("truncated-idx3-ubyte", "labels-idx1-ubyte"),
                     {d + "truncated-idx3-ubyte", "truncated"});
  expect_input_error(open("truncated-idx3-ubyte.gz", "labels-idx1-ubyte"),
                     {d + "truncated-idx3-ubyte.gz"});
  // A labels file where images belong: magic 0x00000801, not 0x00000803.
  expect_input_error(open("labels-idx1-ubyte", "labels-idx1-ubyte"),
                     {d + "labels-idx1-ubyte", "0x00000801", "0x00000803"});
  expect_input_error(open("images-idx3-ubyte", "images-idx3-ubyte"),
                     {d + "images-idx3-ubyte", "0x00000803", "0x00000801"});
  expect_input_error(open("images-idx3-ubyte", "labels-short-idx1-ubyte"),
                     {d + "images-idx3-ubyte", d + "labels-short-idx1-ubyte"});
  expect_input_error(open("missing-idx3-ubyte", "labels-idx1-ubyte"), {d + "missing-idx3-ubyte"});
  expect_input_error(open("images-idx3-ubyte", "missing-idx1-ubyte"), {d + "missing-idx1-ubyte"});
}

// An IDX header (magic 0x0000080<n>, big-endian dims) followed by `data_bytes` zero bytes, written
// plain or gzip-compressed (a few KB of gzip can expand to hundreds of MB: a decompression bomb).
std::string write_idx(const std::string& path, std::vector<std::uint32_t> dims,
                      std::size_t data_bytes, bool gzip) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) bytes += static_cast<char>((d >> s) & 0xff);
  }
  bytes.append(data_bytes, '\0');
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb9");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  return path;
}

TEST(IdxDataset, HeaderBoundsWhatIsRead) {
  const std::string dir = test::temp_dir("idx");
  const std::string labels = write_idx(dir + "/labels", {2}, 2, false);
  auto open = [&](const std::string& images) {
    return [=] { open_dataset(config(DatasetFormat::kIdx, {images}, labels)); };
  };
  // A gzip bomb: 2 images of 28x28 declared, 256 MiB of zeros behind them. The reader stops one
  // byte past the declared size instead of inflating it all.
  const std::string bomb = write_idx(dir + "/bomb.gz", {2, 28, 28}, std::size_t{256} << 20, true);
  EXPECT_LT(std::filesystem::file_size(bomb), std::size_t{1} << 20);
  expect_input_error(open(bomb), {bomb, "oversized IDX data", "[2,28,28]"});
  // Dims whose product is past 4 GiB; sides that do not fit the sample's int sizes.
  const std::string huge = write_idx(dir + "/huge", {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 0, false);
  expect_input_error(open(huge), {huge, "exceed"});
  const std::string wide = write_idx(dir + "/wide", {2, 1, 0x80000001u}, 0, false);
  expect_input_error(open(wide), {wide, "exceed"});
  const std::string tall = write_idx(dir + "/tall", {2, 40000, 1}, 80000, false);
  expect_input_error(open(tall), {tall, "40000x1 pixels", "1..32768"});
  const std::string empty = write_idx(dir + "/empty", {2, 0, 5}, 0, false);
  expect_input_error(open(empty), {empty, "0x5 pixels"});
  // Declared, gzip'd and exactly right: accepted.
  const std::string ok = write_idx(dir + "/ok.gz", {2, 3, 4}, 24, true);
  EXPECT_EQ(open_dataset(config(DatasetFormat::kIdx, {ok}, labels))->size(), 2);
  std::filesystem::remove_all(dir);
}

// Peak resident memory of this process, in MiB.
long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

TEST(NpzDataset, EntrySizeFromTheArchiveIsNotTrusted) {
  // Found by fuzz/ (npz target): an archive whose x.npy claims 4 GiB uncompressed but holds 266
  // bytes. The reader used to allocate (and zero) the claimed size first.
  const std::string npz =
      std::string(DNNFI_SOURCE_DIR) + "/fuzz/regressions/npz/lying-entry-size.npz";
  const long before = peak_rss_mib();
  expect_input_error([&] { open_dataset(config(DatasetFormat::kNpz, {npz})); }, {npz});
  EXPECT_LT(peak_rss_mib() - before, 256);
}

TEST(IdxDataset, DebianFashionMnistT10k) {
  const std::string images = kFashion + "/t10k-images-idx3-ubyte.gz";
  ASSERT_TRUE(fs::exists(images)) << images << " not installed (dataset-fashion-mnist)";
  const auto& facts = manifest()["fashion_mnist_t10k"];
  const auto ds =
      open_dataset(config(DatasetFormat::kIdx, {images}, kFashion + "/t10k-labels-idx1-ubyte.gz"));
  ASSERT_EQ(ds->size(), facts["count"].get<std::int64_t>());
  for (const auto& f : facts["samples"]) {
    const RawSample s = ds->get(f["index"].get<std::int64_t>());
    SCOPED_TRACE("sample " + f["index"].dump());
    EXPECT_EQ(s.label, f["label"].get<std::int64_t>());
    ASSERT_EQ(s.height, 28);
    ASSERT_EQ(s.width, 28);
    ASSERT_EQ(s.channels, 1);
    double sum = 0;
    for (float v : s.pixels) sum += v;
    EXPECT_EQ(sum, f["pixel_sum"].get<double>());
    EXPECT_EQ(s.pixels[14 * 28 + 14], f["pixel_14_14"].get<float>());
  }
  EXPECT_EQ(ds->get(0).label, 9);  // ankle boot, the well-known first test sample

  // End to end into an MNIST-shaped input with scale 1/255: the tensor sums to pixel_sum / 255.
  PreprocessConfig pc;
  pc.scale = 1.0 / 255;
  const Tensor t = preprocess_sample(ds->get(0), pc, {1, 1, 28, 28}, "sample 0");
  double sum = 0;
  for (float v : t.span<const float>()) sum += v;
  EXPECT_NEAR(sum, facts["samples"][0]["pixel_sum"].get<double>() / 255, 1e-3);
}

// ---------------------------------------------------------------------------------------------
// CIFAR
// ---------------------------------------------------------------------------------------------

TEST(CifarDataset, Cifar10BatchesConcatenateAndGiveHwc) {
  const Tensor want = expected("cifar10_hwc.npy");  // numpy transpose of the planar records
  const auto labels = manifest()["cifar10_labels"].get<std::vector<std::int64_t>>();
  const auto ds = open_dataset(config(
      DatasetFormat::kCifar10, {kData + "/cifar/cifar10_a.bin", kData + "/cifar/cifar10_b.bin"}));
  ASSERT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->num_classes(), 10);
  for (std::int64_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const RawSample s = ds->get(i);
    EXPECT_EQ(s.label, labels[static_cast<std::size_t>(i)]);
    expect_pixels(s, want, i * 3072, 32, 32, 3);
  }
}

TEST(CifarDataset, Cifar100FineAndCoarseLabels) {
  const Tensor want = expected("cifar100_hwc.npy");
  auto cfg = config(DatasetFormat::kCifar100, {kData + "/cifar/cifar100.bin"});
  for (const bool fine : {true, false}) {
    cfg.cifar_fine_labels = fine;
    const auto ds = open_dataset(cfg);
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->num_classes(), fine ? 100 : 20);
    const auto labels =
        manifest()[fine ? "cifar100_fine" : "cifar100_coarse"].get<std::vector<std::int64_t>>();
    for (std::int64_t i = 0; i < 2; ++i) {
      EXPECT_EQ(ds->get(i).label, labels[static_cast<std::size_t>(i)]);
      expect_pixels(ds->get(i), want, i * 3072, 32, 32, 3);
    }
  }
}

TEST(CifarDataset, BadFilesNameTheFile) {
  const std::string d = kData + "/cifar/";
  expect_input_error(
      [&] {
        open_dataset(
            config(DatasetFormat::kCifar10, {d + "cifar10_a.bin", d + "cifar10_bad_size.bin"}));
      },
      {d + "cifar10_bad_size.bin", "3073"});
  // CIFAR-100 records (3074 bytes) read as CIFAR-10.
  expect_input_error([&] { open_dataset(config(DatasetFormat::kCifar10, {d + "cifar100.bin"})); },
                     {d + "cifar100.bin", "3073"});
  expect_input_error(
      [&] { open_dataset(config(DatasetFormat::kCifar10, {d + "cifar10_bad_label.bin"})); },
      {d + "cifar10_bad_label.bin", "sample 1", "label 10"});
  expect_input_error([&] { open_dataset(config(DatasetFormat::kCifar10, {d + "missing.bin"})); },
                     {d + "missing.bin"});
}

// ---------------------------------------------------------------------------------------------
// Image folders and GTSRB
// ---------------------------------------------------------------------------------------------

TEST(ImageFolderDataset, MatchesTorchvisionImageFolderAndPil) {
  const auto& m = manifest()["images"];
  const auto ds = open_dataset(config(DatasetFormat::kImages, {kData + "/images"}));
  EXPECT_EQ(ds->num_classes(), static_cast<std::int64_t>(m["classes"].size()));
  ASSERT_EQ(ds->size(), static_cast<std::int64_t>(m["samples"].size()));
  for (std::size_t i = 0; i < m["samples"].size(); ++i) {
    const auto& e = m["samples"][i];
    SCOPED_TRACE(e["path"].get<std::string>());
    const RawSample s = ds->get(static_cast<std::int64_t>(i));
    EXPECT_EQ(s.label, e["label"].get<std::int64_t>());
    // PNG/PPM/PGM decode exactly; stb_image's JPEG IDCT and chroma upsampling differ from
    // libjpeg's (PIL) by a few levels on this smooth image.
    expect_image(s, expected(e["expected"].get<std::string>()), e["jpeg"].get<bool>() ? 3.0 : 0.0);
  }
}

TEST(ImageFolderDataset, EmptyFoldersAndCorruptImages) {
  const std::string dir = test::temp_dir("images");
  expect_input_error([&] { open_dataset(config(DatasetFormat::kImages, {dir})); },
                     {dir, "no class subfolders"});
  fs::create_directories(dir + "/a");
  fs::create_directories(dir + "/b");
  expect_input_error([&] { open_dataset(config(DatasetFormat::kImages, {dir})); },
                     {dir, "no images"});
  std::ofstream(dir + "/b/broken.png") << "not a png";
  fs::copy_file(kData + "/images/cat/a.png", dir + "/b/good.png");
  const auto ds = open_dataset(config(DatasetFormat::kImages, {dir}));
  EXPECT_EQ(ds->num_classes(), 2);  // the empty class folder still takes label 0
  ASSERT_EQ(ds->size(), 2);
  EXPECT_EQ(ds->get(1).label, 1);
  expect_input_error([&] { ds->get(0); }, {dir + "/b/broken.png"});
  expect_input_error([&] { open_dataset(config(DatasetFormat::kImages, {dir + "/nope"})); },
                     {dir + "/nope"});
  fs::remove_all(dir);
}

TEST(ImageFolderDataset, PnmHeaderNumbersAreBounded) {
  // Found by fuzz/ (gtsrb target): stb_image overflowed an int on a 10-digit PNM width.
  const std::string dir = test::temp_dir("images");
  fs::create_directories(dir + "/a");
  std::ofstream(dir + "/a/wide.ppm", std::ios::binary) << "P6\n# c\n4444444444 1\n255\n"
                                                       << "xyz";
  std::ofstream(dir + "/a/ok.pgm", std::ios::binary) << "P5 2 1 255\n"
                                                     << "\x10\x20";
  const auto ds = open_dataset(config(DatasetFormat::kImages, {dir}));
  ASSERT_EQ(ds->size(), 2);
  EXPECT_EQ(ds->get(0).width, 2);  // ok.pgm sorts first
  EXPECT_EQ(ds->get(0).pixels[1], 32.0f);
  expect_input_error([&] { ds->get(1); }, {dir + "/a/wide.ppm", "PNM header number too long"});
  fs::remove_all(dir);
}

TEST(GtsrbDataset, SemicolonCsvWithInclusiveRoi) {
  const auto ds = open_dataset(config(DatasetFormat::kGtsrb, {kData + "/gtsrb/GT-final_test.csv"}));
  const auto labels = manifest()["gtsrb_labels"].get<std::vector<std::int64_t>>();
  ASSERT_EQ(ds->size(), 2);
  for (std::int64_t i = 0; i < 2; ++i) {
    const RawSample s = ds->get(i);
    EXPECT_EQ(s.label, labels[static_cast<std::size_t>(i)]);
    expect_image(s, expected("gtsrb_" + std::to_string(i) + ".npy"));
  }
}

TEST(GtsrbDataset, KaggleCommaCsvWithPathColumn) {
  const auto ds = open_dataset(config(DatasetFormat::kGtsrb, {kData + "/gtsrb/kaggle.csv"}));
  ASSERT_EQ(ds->size(), 1);
  const RawSample s = ds->get(0);
  EXPECT_EQ(s.label, 42);
  expect_image(s, expected("gtsrb_kaggle_0.npy"));
}

TEST(GtsrbDataset, BadCsvNamesColumnLineAndFile) {
  const std::string d = kData + "/gtsrb/";
  expect_input_error([&] { open_dataset(config(DatasetFormat::kGtsrb, {d + "no_class.csv"})); },
                     {d + "no_class.csv", "ClassId"});
  expect_input_error([&] { open_dataset(config(DatasetFormat::kGtsrb, {d + "bad_row.csv"})); },
                     {d + "bad_row.csv", "line 3", "seven"});
  expect_input_error([&] { open_dataset(config(DatasetFormat::kGtsrb, {d + "missing.csv"})); },
                     {d + "missing.csv"});
  const std::string dir = test::temp_dir("gtsrb");
  fs::copy_file(d + "00000.ppm", dir + "/00000.ppm");  // 12 x 10
  std::ofstream(dir + "/missing_image.csv") << "Filename,ClassId\n00000.ppm,1\nnope.ppm,2\n";
  expect_input_error(
      [&] { open_dataset(config(DatasetFormat::kGtsrb, {dir + "/missing_image.csv"})); },
      {dir + "/missing_image.csv", "line 3", "nope.ppm"});
  std::ofstream(dir + "/roi.csv") << "Filename;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
                                     "00000.ppm;0;0;12;5;1\n";
  const auto ds = open_dataset(config(DatasetFormat::kGtsrb, {dir + "/roi.csv"}));
  expect_input_error([&] { ds->get(0); }, {dir + "/00000.ppm", "line 2", "12x10"});
  std::ofstream(dir + "/half_roi.csv") << "Filename;Roi.X1;Roi.Y1;ClassId\n00000.ppm;0;0;1\n";
  expect_input_error([&] { open_dataset(config(DatasetFormat::kGtsrb, {dir + "/half_roi.csv"})); },
                     {dir + "/half_roi.csv", "Roi.X2"});
  fs::remove_all(dir);
}

TEST(Dataset, ConcurrentGetIsThreadSafe) {
  const auto& m = manifest()["images"];
  const auto images = open_dataset(config(DatasetFormat::kImages, {kData + "/images"}));
  const auto cifar = open_dataset(config(
      DatasetFormat::kCifar10, {kData + "/cifar/cifar10_a.bin", kData + "/cifar/cifar10_b.bin"}));
  const Tensor want_cifar = expected("cifar10_hwc.npy");
  const Tensor want_png = expected(m["samples"][1]["expected"].get<std::string>());
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        const RawSample a = images->get(1);
        for (std::size_t k = 0; k < a.pixels.size(); ++k) {
          bad[t] += a.pixels[k] != want_png.get_as_double(static_cast<std::int64_t>(k));
        }
        const RawSample c = cifar->get((rep + t) % 3);
        const std::int64_t off = ((rep + t) % 3) * 3072;
        for (std::size_t k = 0; k < c.pixels.size(); ++k) {
          bad[t] += c.pixels[k] != want_cifar.get_as_double(off + static_cast<std::int64_t>(k));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

// ---------------------------------------------------------------------------------------------
// Preprocessing
// ---------------------------------------------------------------------------------------------

RawSample image_from(const Tensor& hwc) {
  RawSample s;
  s.height = static_cast<int>(hwc.dim(0));
  s.width = static_cast<int>(hwc.dim(1));
  s.channels = hwc.rank() == 3 ? static_cast<int>(hwc.dim(2)) : 1;
  for (std::int64_t i = 0; i < hwc.numel(); ++i)
    s.pixels.push_back(static_cast<float>(hwc.get_as_double(i)));
  return s;
}

// The sample each manifest case starts from (see make_preprocess in the generator).
RawSample preprocess_source(const std::string& source) {
  const Tensor src = expected("pre_src.npy");  // [7,9,3] uint8
  RawSample s = image_from(src);
  if (source == "transpose") {
    RawSample t = s;
    std::swap(t.height, t.width);
    for (int y = 0; y < s.height; ++y) {
      for (int x = 0; x < s.width; ++x) {
        for (int c = 0; c < 3; ++c)
          t.pixels[(x * s.height + y) * 3 + c] = s.pixels[(y * s.width + x) * 3 + c];
      }
    }
    return t;
  }
  if (source == "channel0") {
    RawSample g = s;
    g.channels = 1;
    g.pixels.clear();
    for (std::size_t p = 0; p < s.pixels.size(); p += 3) g.pixels.push_back(s.pixels[p]);
    return g;
  }
  if (source == "tensor1") {
    RawSample t;
    t.is_image = false;
    const Tensor all = expected("tensor_f32.npy");  // [3,2,3,4]
    t.tensor = Tensor(DType::kFloat32, {2, 3, 4});
    std::copy_n(all.data<float>() + 24, 24, t.tensor.data<float>());
    return t;
  }
  return s;
}

TEST(Preprocess, MatchesTorchvisionAndNumpy) {
  for (const auto& c : manifest()["preprocess"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    PreprocessConfig pc;
    pc.grayscale = c.value("grayscale", false);
    pc.bgr = c.value("bgr", false);
    pc.resize = c.value("resize", std::vector<int>{});
    pc.center_crop = c.value("center_crop", std::vector<int>{});
    pc.scale = c.value("scale", 1.0);
    pc.mean = c.value("mean", std::vector<double>{});
    pc.std = c.value("std", std::vector<double>{});
    pc.nhwc = c.value("nhwc", false);
    const Tensor want = expected(c["expected"].get<std::string>());
    const Tensor got = preprocess_sample(preprocess_source(c.value("source", std::string())), pc,
                                         want.shape(), name);
    ASSERT_EQ(got.shape(), want.shape());
    ASSERT_EQ(got.dtype(), DType::kFloat32);
    // The oracle runs in float64 and the pipeline stores float32, on values up to 255 before
    // scaling: allow about one float32 ulp of the value (measured worst: 8e-6 near 100).
    for (std::int64_t i = 0; i < got.numel(); ++i) {
      const double w = want.get_as_double(i);
      ASSERT_NEAR(got.data<float>()[i], w, 1e-5 + 1e-6 * std::fabs(w)) << "element " << i;
    }
  }
}

TEST(Preprocess, ShapesThatDoNotFitTheModelAreInputErrors) {
  const RawSample rgb = preprocess_source("");  // 7 x 9 x 3
  PreprocessConfig pc;
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {1, 3, 4, 4}, "sample 3");
      },
      {"sample 3", "[1,3,7,9]", "[1,3,4,4]"});
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {1, 1, 7, 9}, "sample 3");
      },
      {"sample 3", "[1,3,7,9]", "[1,1,7,9]", "grayscale"});
  pc.nhwc = true;
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {1, 9, 7, 3}, "sample 3");
      },
      {"sample 3", "[1,7,9,3]", "[1,9,7,3]"});
  pc.nhwc = false;
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {3, 7, 9}, "sample 3");
      },
      {"sample 3", "[3,7,9]"});
  pc.mean = {0.5, 0.5};
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {1, 3, 7, 9}, "sample 3");
      },
      {"sample 3", "mean", "2 values", "3 channels"});
  pc.mean = {};
  pc.std = {1, 0, 1};
  expect_input_error(
      [&] {
        preprocess_sample(rgb, pc, {1, 3, 7, 9}, "sample 3");
      },
      {"sample 3", "std"});
  pc.std = {};
  pc.resize = {1, 2, 3};
  expect_input_error([&] { preprocess_sample(rgb, pc, {1, 3, 7, 9}, "sample 3"); }, {"resize"});

  const RawSample t = preprocess_source("tensor1");  // [2,3,4]
  expect_input_error(
      [&] {
        preprocess_sample(t, PreprocessConfig{}, {1, 1, 28, 28}, "sample 7");
      },
      {"sample 7", "[2,3,4]", "[1,1,28,28]"});
  // Same element count in another shape is accepted (the tensor is reshaped).
  EXPECT_EQ(preprocess_sample(t, PreprocessConfig{}, {1, 24}, "sample 7").shape(), (Shape{1, 24}));
}

}  // namespace
}  // namespace dnnfi
