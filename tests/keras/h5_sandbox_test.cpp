// The HDF5 sandbox (src/keras/h5_sandbox.h): what a reader returns crosses the process boundary
// intact, its errors come back as LoadErrors, and a reader that crashes the child is an error in
// the caller, not a crash.
#include "keras/h5_sandbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>

#include "core/error.h"

namespace dnnfi::keras {
namespace {

std::string load_error(const std::function<H5Contents()>& read) {
  try {
    read_h5_sandboxed("m.h5", 0, read);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(H5Sandbox, ContentsCrossIntact) {
  const H5Contents got = read_h5_sandboxed("m.h5", 0, [] {
    H5Contents c;
    c.config = std::string("{\"a\": 1}\0tail", 13);
    c.weights.by_class_path = true;
    Tensor k(DType::kFloat32, {2, 3});
    for (int i = 0; i < 6; ++i) k.data<float>()[i] = 0.5f * static_cast<float>(i) - 1.0f;
    c.weights.layers["conv"].push_back({"kernel", k});
    c.weights.layers["conv"].push_back({"bias", Tensor(DType::kFloat32, {0})});
    c.weights.layers["empty"];
    return c;
  });
  EXPECT_EQ(got.config, std::string("{\"a\": 1}\0tail", 13));
  EXPECT_TRUE(got.weights.by_class_path);
  ASSERT_EQ(got.weights.layers.size(), 2u);
  const auto& conv = got.weights.layers.at("conv");
  ASSERT_EQ(conv.size(), 2u);
  EXPECT_EQ(conv[0].name, "kernel");
  EXPECT_EQ(conv[0].value.shape(), (Shape{2, 3}));
  EXPECT_EQ(conv[0].value.data<float>()[5], 1.5f);
  EXPECT_EQ(conv[1].value.shape(), (Shape{0}));
  EXPECT_TRUE(got.weights.layers.at("empty").empty());
}

TEST(H5Sandbox, ReaderErrorsComeBack) {
  EXPECT_EQ(load_error([]() -> H5Contents { throw LoadError("m.h5: no 'model_weights' group"); }),
            "m.h5: no 'model_weights' group");
}

TEST(H5Sandbox, ACrashingReaderIsALoadError) {
  // As libhdf5 does on some malformed files (a heap overflow found by fuzz/).
  const std::string msg = load_error([]() -> H5Contents {
    std::raise(SIGSEGV);
    return {};
  });
  EXPECT_EQ(msg.rfind("m.h5: corrupt HDF5 file (the HDF5 library crashed reading it: ", 0), 0u)
      << msg;
}

TEST(H5Sandbox, AReaderThatNeverFinishesIsKilled) {
  // libhdf5 loops on some malformed files (a fuzz timeout): the child gets 10 s for a small file.
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = load_error([]() -> H5Contents {
    for (;;) ::pause();
  });
  EXPECT_EQ(msg, "m.h5: corrupt HDF5 file (the HDF5 library did not finish reading it in 10 s)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace dnnfi::keras
