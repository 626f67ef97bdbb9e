// Helpers shared by the fuzz targets: a per-process scratch folder for readers that take paths,
// splitting a multi-file input, and running a loaded model within small memory limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "campaign/dataset.h"
#include "graph/graph.h"

namespace dnnfi::fuzz {

// Largest tensor and largest total of values a fuzzed model may prepare and run: far below the
// engine's default limit, so that every input runs in milliseconds.
inline constexpr std::size_t kMaxTensorBytes = std::size_t{16} << 20;
inline constexpr std::size_t kMaxRunBytes = std::size_t{64} << 20;

// A folder of this process (under $TMPDIR, or /dev/shm when it exists), emptied before each input
// and removed at exit.
const std::string& scratch_dir();
void clear_scratch();
// Writes bytes to scratch_dir()/name (name may contain one level of subfolder) and returns the
// path.
std::string write_scratch(const std::string& name, std::string_view bytes);

// The input split at kPartSeparator; at least one part.
std::vector<std::string_view> split_parts(const std::uint8_t* data, std::size_t size);

// Prepares the graph (unfused, then fused and channels-last) with kMaxTensorBytes as the tensor
// limit and runs each session once on a deterministic input when its values fit kMaxRunBytes.
// Kernel errors are statuses; setup errors are dnnfi::Errors (the caller catches them).
void prepare_and_run(const Graph& graph);

// Decodes up to 16 samples of the dataset and preprocesses the images to a small input.
void read_samples(const Dataset& dataset);

}  // namespace dnnfi::fuzz
