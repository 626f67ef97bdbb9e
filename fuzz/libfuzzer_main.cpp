// The libFuzzer entry point of one fuzz_<target> executable; DNNFI_FUZZ_TARGET names the target
// function (fuzz/CMakeLists.txt).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return DNNFI_FUZZ_TARGET(data, size);
}
