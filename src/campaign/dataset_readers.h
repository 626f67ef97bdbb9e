// Internal to the dataset readers: the openers that live in separate files and the checks they
// share. Not part of the API; include campaign/dataset.h instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "campaign/dataset.h"

namespace dnnfi::dataset_detail {

// The largest image side a reader accepts (pixels); sample sizes are ints.
inline constexpr std::int64_t kMaxImageSide = 1 << 15;

// The only path of a single-path format; throws InputError when there is not exactly one.
const std::string& single_path(const DatasetConfig& config);

// Throws InputError naming `file` and the sample when `label` is negative or, when num_classes is
// known (>= 0), not below it.
void check_label(std::int64_t label, std::int64_t num_classes, const std::string& file,
                 std::int64_t sample);

// Image folder (one subfolder per class) and GTSRB CSV readers (dataset_images.cpp).
std::unique_ptr<Dataset> open_image_folder(const DatasetConfig& config);
std::unique_ptr<Dataset> open_gtsrb(const DatasetConfig& config);

}  // namespace dnnfi::dataset_detail
