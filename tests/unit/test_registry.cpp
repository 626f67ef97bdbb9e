// Every registered op has tests of its own in tests/ops (a test fails if a registered op
// has no test), and the table has no duplicate rows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ops/registry.h"

namespace dnnfi {
namespace {

TEST(Registry, EveryOpHasATest) {
  std::string sources;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(DNNFI_SOURCE_DIR) + "/tests/ops")) {
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    sources += ss.str();
  }
  for (const OpRow& row : op_table()) {
    const std::string quoted = "\"" + std::string(row.op_type) + "\"";
    EXPECT_NE(sources.find(quoted), std::string::npos)
        << row.op_type << " has no test in tests/ops";
  }
}

TEST(Registry, RowsAreUniqueAndLookupPicksHighestSince) {
  std::set<std::tuple<std::string, std::string, std::int64_t>> seen;
  for (const OpRow& row : op_table()) {
    EXPECT_TRUE(
        seen.emplace(std::string(row.domain), std::string(row.op_type), row.since_version).second)
        << row.op_type;
  }
  EXPECT_NE(find_op("", "Conv", 13), nullptr);
  EXPECT_NE(find_op("ai.onnx", "Conv", 13), nullptr);
  EXPECT_EQ(find_op("", "LayerNormalization", 16), nullptr);  // introduced in opset 17
  EXPECT_NE(find_op("", "LayerNormalization", 17), nullptr);
  EXPECT_EQ(find_op("", "NoSuchOp", 13), nullptr);
  EXPECT_EQ(find_op("com.microsoft", "Conv", 13), nullptr);
}

}  // namespace
}  // namespace dnnfi
