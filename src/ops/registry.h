// The op table: which (domain, op_type, opset) this engine supports and the prepare function of
// each. The table itself is in registry.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ops/kernel.h"

namespace dnnfi {

struct OpRow {
  std::string_view domain;  // "" = ai.onnx
  std::string_view op_type;
  std::int64_t since_version;
  PrepareFn prepare;
};

std::span<const OpRow> op_table();
// The row for the op at the model's opset of its domain, or nullptr when unsupported.
const OpRow* find_op(std::string_view domain, std::string_view op_type, std::int64_t opset);

}  // namespace dnnfi
