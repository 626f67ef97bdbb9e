// Vega 5, Vega-Lite 5 and vega-embed 6, the minified builds vendored in third_party/vega/
// (versions and how to update: third_party/vega/README.md), compiled into the library by
// cmake/embed_text.cmake so that a report page carries them inline and opens without a network
// and dnnfi needs no files beside its binary.
#pragma once

#include <string_view>

namespace dnnfi::assets {

extern const std::string_view kVegaJs;
extern const std::string_view kVegaLiteJs;
extern const std::string_view kVegaEmbedJs;

}  // namespace dnnfi::assets
