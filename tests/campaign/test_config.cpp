// Campaign configs: dnnfi keys, the TensorFI2/TensorFI+ keys with their documented meanings
// (github DependableSystemsLab/TensorFI2, conf/README: Target, Mode, Type, Amount, Bit), and
// one-line errors that name the key and its line.
#include <gtest/gtest.h>

#include <fstream>

#include "campaign/config.h"
#include "common/onnx_builder.h"
#include "core/error.h"

namespace dnnfi {
namespace {

CampaignConfig parse(const std::string& yaml) {
  return parse_campaign_config(yaml, "c.yaml", "/base");
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(CampaignConfig, NativeKeys) {
  const auto c = parse(R"(
model: m.onnx
dataset:
  format: idx
  path: imgs.gz
  labels: /abs/labels.gz
  samples: 100
  only_correct: true
preprocess:
  resize: [32, 32]
  center_crop: 28
  scale: 0.5
  mean: [0.1, 0.2, 0.3]
  std: 0.5
  channels: bgr
  layout: nhwc
faults:
  target: weight
  model: stuck1
  bits: [3, 30]
  op_types: [Conv, Gemm]
  name_regex: "^fc"
  per_trial: 2
  sites: size_weighted
trials: 500
target_halfwidth: 0.01
checkpoint: 100
seed: 42
threads: 3
golden_cache_mb: 512
batch: 8
input_order: sequential
strategy: superlayer
time_limit: 2.5
output: out
shard: 1/4
)");
  EXPECT_EQ(c.model, "/base/m.onnx");
  EXPECT_EQ(c.dataset.format, DatasetFormat::kIdx);
  ASSERT_EQ(c.dataset.paths.size(), 1u);
  EXPECT_EQ(c.dataset.paths[0], "/base/imgs.gz");
  EXPECT_EQ(c.dataset.labels, "/abs/labels.gz");
  EXPECT_EQ(c.samples, 100);
  EXPECT_TRUE(c.only_correct);
  EXPECT_EQ(c.preprocess.resize, (std::vector<int>{32, 32}));
  EXPECT_EQ(c.preprocess.center_crop, (std::vector<int>{28, 28}));
  EXPECT_EQ(c.preprocess.scale, 0.5);
  EXPECT_EQ(c.preprocess.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(c.preprocess.std, (std::vector<double>{0.5}));
  EXPECT_EQ(c.preprocess.bgr, true);
  EXPECT_EQ(c.preprocess.nhwc, true);
  EXPECT_EQ(c.faults.target, SiteKind::kWeight);
  EXPECT_EQ(c.faults.model.kind, FaultModelKind::kStuckAt1);
  EXPECT_EQ(c.faults.model.bits, (std::vector<int>{3, 30}));
  EXPECT_EQ(c.faults.op_types, (std::vector<std::string>{"Conv", "Gemm"}));
  EXPECT_EQ(c.faults.name_regex, "^fc");
  EXPECT_EQ(c.faults.faults_per_trial, 2);
  EXPECT_EQ(c.faults.policy, SitePolicy::kSizeWeighted);
  EXPECT_EQ(c.trials, 500);
  EXPECT_EQ(c.target_halfwidth, 0.01);
  EXPECT_EQ(c.checkpoint, 100);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.golden_cache_mb, 512);
  EXPECT_EQ(c.batch, 8);
  EXPECT_TRUE(c.sequential_inputs);
  EXPECT_EQ(c.strategy, Strategy::kSuperlayer);
  EXPECT_EQ(c.time_limit_s, 2.5);
  EXPECT_EQ(c.output, "/base/out");
  EXPECT_EQ(c.shard_index, 1);
  EXPECT_EQ(c.shard_count, 4);
  EXPECT_FALSE(c.tensorfi2);
}

// sample-1.yaml of TensorFI2: "flip the 5th bit in the output tensor of a randomly chosen layer".
TEST(CampaignConfig, TensorFI2SingleBitflipAtFixedBit) {
  const auto c = parse("Target: layer_outputs\nMode: single\nType: bitflips\nAmount: 1\nBit: 5\n");
  EXPECT_TRUE(c.tensorfi2);
  EXPECT_EQ(c.faults.target, SiteKind::kNodeOutput);
  EXPECT_EQ(c.faults.model.kind, FaultModelKind::kBitFlip);
  EXPECT_EQ(c.faults.model.bits, (std::vector<int>{5}));
  EXPECT_EQ(c.faults.faults_per_trial, 1);
  EXPECT_FALSE(c.faults.independent_sites);  // one layer
  EXPECT_FALSE(c.faults.every_site);
  EXPECT_EQ(c.faults.dtypes, (std::vector<DType>{DType::kFloat32}));
}

// TensorFI+'s experiments: one random bit (Bit: N or absent) of one value of one layer's output.
TEST(CampaignConfig, TensorFI2RandomBitIsAnyOf32) {
  for (const char* yaml :
       {"Target: layer_outputs\nMode: single\nType: bitflips\nAmount: 1\nBit: N\n",
        "Target: layer_outputs\nMode: single\nType: bitflips\nAmount: 1\n"}) {
    const auto c = parse(yaml);
    EXPECT_TRUE(c.faults.model.bits.empty());
    EXPECT_EQ(c.faults.bit_lo, 0);
    EXPECT_EQ(c.faults.bit_hi, 31);
    EXPECT_EQ(c.faults.bits_per_fault, 1);
  }
}

// sample-2.yaml: "replace 10% of each and every layer state tensors of the model with zeros".
TEST(CampaignConfig, TensorFI2MultipleZerosPercentOfEveryWeight) {
  const auto c = parse("Target: layer_state\nMode: multiple\nType: zeros\nAmount: 10\n");
  EXPECT_EQ(c.faults.target, SiteKind::kWeight);
  EXPECT_EQ(c.faults.model.kind, FaultModelKind::kSetZero);
  EXPECT_EQ(c.faults.percent_per_site, 10.0);
  EXPECT_TRUE(c.faults.every_site);
}

// Type: random replaces Amount values with uniform [0, 1) values.
TEST(CampaignConfig, TensorFI2RandomValues) {
  const auto c = parse("Target: layer_states\nMode: single\nType: random\nAmount: 7\n");
  EXPECT_EQ(c.faults.model.kind, FaultModelKind::kRandomValue);
  EXPECT_EQ(c.faults.model.lo, 0.0);
  EXPECT_EQ(c.faults.model.hi, 1.0);
  EXPECT_EQ(c.faults.faults_per_trial, 7);
  EXPECT_FALSE(c.faults.independent_sites);
}

// The TensorFI2 fork's `Layer: K | N` key, and its early form where Mode named the target
// (case study 2's sample.yaml: "Mode: layer_states, Type: bitflips, Amount: 1000, Layer: N").
TEST(CampaignConfig, TensorFI2LayerKeyAndEarlyModeForm) {
  const auto early = parse("Mode: layer_states\nType: bitflips\nAmount: 1000\nLayer: N\n");
  EXPECT_EQ(early.faults.target, SiteKind::kWeight);
  EXPECT_FALSE(early.faults.independent_sites);
  EXPECT_FALSE(early.faults.every_site);
  EXPECT_EQ(early.faults.faults_per_trial, 1000);
  EXPECT_EQ(early.faults.layer_index, -1);
  const auto fixed = parse(
      "model: m.onnx\ndataset: {format: npy, path: x.npy}\nTarget: layer_outputs\nMode: single\n"
      "Type: bitflips\nAmount: 1\nLayer: 3\n");
  EXPECT_EQ(fixed.faults.layer_index, 3);
  EXPECT_NE(error_of("Target: layer_outputs\nLayer: -2\n").find("c.yaml:2: Layer"),
            std::string::npos);
  const auto back = parse_campaign_config(campaign_config_yaml(fixed), "round-trip", "");
  EXPECT_EQ(back.faults.layer_index, 3);
}

TEST(CampaignConfig, ErrorsNameTheKeyAndLine) {
  EXPECT_NE(error_of("model: m.onnx\ntrails: 10\n").find("c.yaml:2: trails: unknown key"),
            std::string::npos)
      << error_of("model: m.onnx\ntrails: 10\n");
  EXPECT_NE(error_of("faults:\n  target: node_output\n  bitz: 3\n").find("c.yaml:3: faults.bitz"),
            std::string::npos);
  EXPECT_NE(error_of("model: [unclosed\n").find("c.yaml:"), std::string::npos);
  EXPECT_NE(error_of("model: [unclosed\n").find("malformed YAML"), std::string::npos);
  EXPECT_NE(error_of("trials: many\n").find("c.yaml:1: trials: cannot read 'many'"),
            std::string::npos);
  EXPECT_NE(error_of("Type: bitflips\nBit: 40\n").find("c.yaml:2: Bit"), std::string::npos);
  EXPECT_NE(error_of("Type: flips\n").find("Type"), std::string::npos);
  EXPECT_NE(error_of("Mode: several\n").find("Mode"), std::string::npos);
  EXPECT_NE(error_of("Type: zeros\nAmount: 150\n").find("Amount"), std::string::npos);
  EXPECT_NE(error_of("Type: zeros\nBit: 3\n").find("Bit"), std::string::npos);
  EXPECT_NE(error_of("Type: bitflips\nfaults:\n  model: bitflip\n").find("not both"),
            std::string::npos);
  EXPECT_NE(error_of("faults:\n  model: melt\n").find("faults.model"), std::string::npos);
  EXPECT_NE(error_of("strategy: fast\n").find("strategy"), std::string::npos);
  EXPECT_NE(error_of("input_order: shuffled\n").find("c.yaml:1: input_order: must be random"),
            std::string::npos)
      << error_of("input_order: shuffled\n");
  EXPECT_NE(error_of("golden_cache_mb: -5\n").find("c.yaml:1: golden_cache_mb: must be"),
            std::string::npos);
  EXPECT_NE(error_of("shard: 4/4\n").find("shard"), std::string::npos);
  EXPECT_NE(error_of("batch: 0\n").find("c.yaml:1: batch: must be auto or in 1..64"),
            std::string::npos)
      << error_of("batch: 0\n");
  EXPECT_NE(error_of("batch: 65\n").find("batch: must be auto or in 1..64"), std::string::npos);
  EXPECT_NE(error_of("batch: 8x\n").find("batch: must be auto or in 1..64"), std::string::npos);
  EXPECT_NE(error_of("dataset:\n  format: tiff\n  path: x\n").find("dataset.format"),
            std::string::npos);
  EXPECT_NE(error_of("preprocess:\n  std: [0]\n").find("preprocess.std"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_THROW(load_campaign_config("/nonexistent/dir/c.yaml"), InputError);
  // A key that is a list or a mapping, at the top and inside a section.
  EXPECT_NE(error_of("model: m.onnx\n[a, b]: 3\n").find("c.yaml:2: config: a key must be a plain"),
            std::string::npos)
      << error_of("model: m.onnx\n[a, b]: 3\n");
  EXPECT_NE(error_of("faults:\n  {x: 1}: 2\n").find("c.yaml:2: faults: a key must be a plain"),
            std::string::npos);
  // Fault counts that do not fit (TensorFI2's Amount was cast to int).
  EXPECT_NE(error_of("Type: bitflips\nAmount: 1e12\n").find("c.yaml:2: Amount: must be a whole"),
            std::string::npos)
      << error_of("Type: bitflips\nAmount: 1e12\n");
  EXPECT_NE(error_of("Type: random\nAmount: 3000000000\n").find("Amount"), std::string::npos);
  EXPECT_NE(error_of("faults:\n  per_trial: 1e12\n").find("c.yaml:2: faults.per_trial"),
            std::string::npos);
}

TEST(CampaignConfig, ResolvedYamlRoundTripsControlCharacters) {
  // Found by fuzz/ (config target): a path ending in carriage returns was written as a plain YAML
  // scalar and read back without them, so a stored campaign named another model.
  auto c = parse(
      "model: \"m\\r\\r.onnx\\r\"\noutput: \"o\\tut\"\nfaults:\n  op_types: [\"C\\x01\"]\n"
      "dataset: {format: idx, path: \"d\\r\", labels: l}\n");
  EXPECT_EQ(c.model, "/base/m\r\r.onnx\r");
  const std::string yaml = campaign_config_yaml(c);
  const auto back = parse_campaign_config(yaml, "stored", "");
  EXPECT_EQ(back.model, c.model);
  EXPECT_EQ(back.output, c.output);
  EXPECT_EQ(back.faults.op_types, c.faults.op_types);
  EXPECT_EQ(back.dataset.paths, c.dataset.paths);
  EXPECT_EQ(campaign_config_yaml(back), yaml);
}

TEST(CampaignConfig, ValidateNeedsModelAndDataset) {
  auto c = parse("Type: bitflips\n");
  try {
    validate_campaign_config(c);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model"), std::string::npos);
  }
  c.model = "m.onnx";
  EXPECT_THROW(validate_campaign_config(c), InputError);  // no dataset
  c.has_dataset = true;
  validate_campaign_config(c);
  c.target_halfwidth = 0.01;
  c.shard_count = 2;
  EXPECT_THROW(validate_campaign_config(c), InputError);  // target width needs the whole run
}

// The resolved YAML parses back to the same campaign, and the hash ignores execution keys.
TEST(CampaignConfig, YamlRoundTripAndHash) {
  auto c = parse(
      "model: m.onnx\ndataset:\n  format: cifar10\n  path: [a.bin, b.bin]\npreprocess:\n  mean: "
      "[1, 2, 3]\n"
      "faults:\n  model: random\n  range: [-2, 2]\n  dtypes: [float32]\ntrials: 9\nseed: 5\n");
  const std::string yaml = campaign_config_yaml(c);
  const auto back = parse_campaign_config(yaml, "round-trip", "");
  EXPECT_EQ(campaign_config_yaml(back), yaml);
  EXPECT_EQ(back.dataset.paths, (std::vector<std::string>{"/base/a.bin", "/base/b.bin"}));
  EXPECT_EQ(back.faults.model.lo, -2.0);
  auto other = c;
  other.threads = 7;
  other.output = "/elsewhere";
  other.shard_index = 1;
  other.shard_count = 3;
  other.golden_cache_mb = 64;
  other.batch = 16;  // the same records at any batch size
  EXPECT_EQ(campaign_config_hash(other), campaign_config_hash(c));
  EXPECT_NE(campaign_config_yaml(other).find("batch: 16"), std::string::npos);
  parse_batch("auto", other);
  EXPECT_TRUE(other.batch_auto);
  EXPECT_EQ(other.batch, kAutoBatch);
  EXPECT_EQ(campaign_config_hash(other), campaign_config_hash(c));
  const std::string auto_yaml = campaign_config_yaml(other);
  EXPECT_NE(auto_yaml.find("batch: auto"), std::string::npos);
  EXPECT_TRUE(parse_campaign_config(auto_yaml, "auto", "").batch_auto);
  EXPECT_NE(campaign_config_yaml(other).find("golden_cache_mb: 64"), std::string::npos);
  other.sequential_inputs = true;  // changes which input each trial uses
  EXPECT_NE(campaign_config_hash(other), campaign_config_hash(c));
  other.sequential_inputs = false;
  other.seed = 6;
  EXPECT_NE(campaign_config_hash(other), campaign_config_hash(c));
}

// activation_layout: nhwc changes the values kernels compute (summation order), so it is part of
// the campaign's identity; nchw, the default, leaves the identity of configs written before the
// key unchanged. A bad value names the key.
TEST(CampaignConfig, ActivationLayoutIsPartOfTheIdentity) {
  const std::string base = "model: m.onnx\ndataset: {format: cifar10, path: a.bin}\n";
  const auto c = parse(base);
  EXPECT_FALSE(c.channels_last);
  const auto nchw = parse(base + "activation_layout: nchw\n");
  EXPECT_FALSE(nchw.channels_last);
  EXPECT_EQ(campaign_config_hash(nchw), campaign_config_hash(c));
  const auto nhwc = parse(base + "activation_layout: nhwc\n");
  EXPECT_TRUE(nhwc.channels_last);
  EXPECT_NE(campaign_config_hash(nhwc), campaign_config_hash(c));
  const auto back = parse_campaign_config(campaign_config_yaml(nhwc), "round-trip", "");
  EXPECT_TRUE(back.channels_last);
  try {
    parse(base + "activation_layout: NHWCX\n");
    ADD_FAILURE() << "accepted a bad layout";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("activation_layout"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NHWCX"), std::string::npos) << e.what();
  }
}

// FIPS 180-2 test vector.
TEST(CampaignConfig, Sha256KnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace dnnfi
