// Fuzz targets for the dataset readers: npy, npz, IDX (plain or gzip), CIFAR binary, GTSRB CSV.
#include <stdexcept>
#include <string>

#include "campaign/dataset.h"
#include "core/error.h"
#include "core/npy.h"
#include "fuzz_util.h"
#include "targets.h"

namespace dnnfi::fuzz {

namespace {

void open_and_read(const DatasetConfig& config) {
  try {
    read_samples(*open_dataset(config));
  } catch (const Error&) {
  }
}

}  // namespace

int npy(const std::uint8_t* data, std::size_t size) {
  Tensor t;
  try {
    t = parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  } catch (const Error&) {
    return 0;
  }
  // What parse_npy accepts, serialize_npy writes back to an array that parses to the same tensor.
  const std::string again = serialize_npy(t);
  const Tensor u = parse_npy(again, "again.npy");
  if (u.info() != t.info() || serialize_npy(u) != again) {
    throw std::logic_error("npy round trip changed the array");
  }
  return 0;
}

int npz(const std::uint8_t* data, std::size_t size) {
  clear_scratch();
  DatasetConfig c;
  c.format = DatasetFormat::kNpz;
  c.paths = {write_scratch("data.npz", {reinterpret_cast<const char*>(data), size})};
  open_and_read(c);
  c.array_layout = "hwc";
  open_and_read(c);
  return 0;
}

int idx(const std::uint8_t* data, std::size_t size) {
  const auto parts = split_parts(data, size);
  clear_scratch();
  DatasetConfig c;
  c.format = DatasetFormat::kIdx;
  c.paths = {write_scratch("images-idx3-ubyte", parts[0])};
  c.labels = write_scratch("labels-idx1-ubyte", parts.size() > 1 ? parts[1] : std::string_view());
  open_and_read(c);
  return 0;
}

int cifar(const std::uint8_t* data, std::size_t size) {
  clear_scratch();
  DatasetConfig c;
  c.format = DatasetFormat::kCifar10;
  c.paths = {write_scratch("data_batch.bin", {reinterpret_cast<const char*>(data), size})};
  open_and_read(c);
  c.format = DatasetFormat::kCifar100;
  open_and_read(c);
  c.cifar_fine_labels = false;
  open_and_read(c);
  return 0;
}

int gtsrb(const std::uint8_t* data, std::size_t size) {
  static const char* const kImages[] = {"00000.ppm", "00001.ppm", "Test/00002.png"};
  const auto parts = split_parts(data, size);
  clear_scratch();
  for (std::size_t i = 1; i < parts.size() && i <= 3; ++i) write_scratch(kImages[i - 1], parts[i]);
  DatasetConfig c;
  c.format = DatasetFormat::kGtsrb;
  c.paths = {write_scratch("GT-final_test.csv", parts[0])};
  open_and_read(c);
  return 0;
}

}  // namespace dnnfi::fuzz
