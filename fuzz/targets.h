// Fuzz targets: one function per input reader, each taking the raw bytes of one input. They are
// compiled into the libFuzzer executables (fuzz/libfuzzer_main.cpp, -DDNNFI_FUZZ=ON with clang)
// and into dnnfi_fuzz_replay, which the test suite (label fuzz) runs over
// fuzz/regressions/<target>/ and the seed corpora through the same code in the ordinary (and
// ASan/UBSan) build.
//
// Contract checked: a reader either succeeds or throws a dnnfi::Error. Any other exception
// escapes the target (libFuzzer reports the abort, the test reports the exception); memory errors
// and undefined behaviour are caught by the sanitizers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace dnnfi::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

// ONNX model -> load, prepare (unfused, then fused channels-last) and run on a small input.
int onnx(const std::uint8_t* data, std::size_t size);
// Keras 2 .h5 / Keras 3 .keras file -> load, prepare and run.
int keras_h5(const std::uint8_t* data, std::size_t size);
int keras_zip(const std::uint8_t* data, std::size_t size);
// TensorFlow.js layers model: part 0 is model.json, part 1 its weights file (weights.bin).
int tfjs(const std::uint8_t* data, std::size_t size);
// Campaign YAML (dnnfi and TensorFI2 keys) -> parse, validate, and the resolved YAML round trip.
int config(const std::uint8_t* data, std::size_t size);
// Dataset readers; each decodes up to 16 samples and preprocesses image samples.
int npy(const std::uint8_t* data, std::size_t size);  // parse_npy + serialize round trip
int npz(const std::uint8_t* data, std::size_t size);
int idx(const std::uint8_t* data, std::size_t size);    // part 0 images, part 1 labels
int cifar(const std::uint8_t* data, std::size_t size);  // as CIFAR-10 and as CIFAR-100
int gtsrb(const std::uint8_t* data, std::size_t size);  // part 0 CSV, parts 1.. image files

struct Target {
  std::string_view name;
  TargetFn fn;
  std::string_view file_name;  // the name single-file targets write their input to
};

inline constexpr Target kTargets[] = {
    {"onnx", onnx, "model.onnx"},
    {"keras_h5", keras_h5, "model.h5"},
    {"keras_zip", keras_zip, "model.keras"},
    {"tfjs", tfjs, "model.json"},
    {"config", config, "config.yaml"},
    {"npy", npy, "data.npy"},
    {"npz", npz, "data.npz"},
    {"idx", idx, "images-idx3-ubyte"},
    {"cifar", cifar, "data_batch.bin"},
    {"gtsrb", gtsrb, "GT-final_test.csv"},
};

// Separates the parts of a multi-file input (tfjs, idx, gtsrb); seeds are made by joining the
// files with it (scripts/fuzz.sh).
inline constexpr std::string_view kPartSeparator = "\nDNNFI-FUZZ-PART\n";

}  // namespace dnnfi::fuzz
