// Where a campaign's preprocessing comes from: the model's dnnfi.preprocess metadata, a sidecar
// MODEL.preprocess.yaml, the config's preprocess: section and command-line flags, layered in that
// order key by key (docs/campaigns.md); one-line errors for bad values in any of them; and the
// warnings when inputs look unnormalized or the fault-free accuracy is at chance level.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "campaign/campaign.h"
#include "campaign/config.h"
#include "campaign/replay.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "core/log.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_cli;

const std::string kSource = DNNFI_SOURCE_DIR;
const std::string kModel = kSource + "/models/fmnist_resnet.onnx";
const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
const std::string kDataFlags =
    " --dataset-format idx --dataset " + kImages + " --labels " + kLabels;

// A copy of the bundled model in `dir` whose dnnfi.preprocess metadata is `value` (none when
// nullopt); everything else is the bundled model's.
std::string model_copy(const std::string& dir, const std::optional<std::string>& value) {
  onnx::ModelProto m;
  {
    std::ifstream in(kModel, std::ios::binary);
    EXPECT_TRUE(m.ParseFromIstream(&in));
  }
  auto* props = m.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i) {
    if (props->Get(i).key() == kPreprocessMetadataKey) props->DeleteSubrange(i, 1);
  }
  if (value) {
    auto* p = m.add_metadata_props();
    p->set_key(kPreprocessMetadataKey);
    p->set_value(*value);
  }
  const std::string path = dir + "/model.onnx";
  std::ofstream out(path, std::ios::binary);
  EXPECT_TRUE(m.SerializeToOstream(&out));
  return path;
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// TensorFI+'s fault config, as published: no model, dataset or preprocessing keys.
std::string tensorfi2_config(const std::string& dir) {
  return write(dir + "/tf2.yaml", "Target: layer_outputs\nMode: single\nType: bitflips\n");
}

CampaignConfig idx_config(const std::string& model) {
  CampaignConfig c;
  c.source = "test";
  c.model = model;
  c.dataset.format = DatasetFormat::kIdx;
  c.dataset.paths = {kImages};
  c.dataset.labels = kLabels;
  c.has_dataset = true;
  c.samples = 20;
  return c;
}

// The preprocessing a finished campaign ran with, as its database records it.
PreprocessConfig stored_preprocess(const std::string& out) {
  const auto info = ResultsDb::open(results_db_path(out), true).campaign();
  auto c = parse_campaign_config(info.config_yaml, "stored", "");
  return c.preprocess.resolve();
}

std::vector<InputRecord> inputs_of(const std::string& out) {
  return ResultsDb::open(results_db_path(out), true).inputs();
}

double accuracy(const std::vector<InputRecord>& inputs) {
  std::int64_t correct = 0;
  for (const auto& in : inputs) correct += in.correct ? 1 : 0;
  return inputs.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(inputs.size());
}

// The README's example: TensorFI+'s config with model and dataset from flags and no preprocessing
// anywhere but in the model gives exactly the demo config's golden pass on the same samples.
TEST(PreprocessSources, ModelMetadataIsAppliedLikeTheDemoConfig) {
  const std::string dir = test::temp_dir("pp_meta");
  const auto demo =
      run_cli("campaign " + kSource + "/configs/demo.yaml --samples 300 --trials 20 " +
              "--threads 1 -q -o " + dir + "/demo");
  ASSERT_EQ(demo.exit_code, 0) << demo.err;
  const auto tf2 =
      run_cli("campaign " + kSource + "/configs/tensorfi2_sample.yaml --model " + kModel +
              kDataFlags + " --samples 300 --trials 20 -q -o " + dir + "/tf2");
  ASSERT_EQ(tf2.exit_code, 0) << tf2.err;
  EXPECT_EQ(tf2.err.find("warning"), std::string::npos) << tf2.err;
  const auto a = inputs_of(dir + "/demo"), b = inputs_of(dir + "/tf2");
  ASSERT_EQ(a.size(), 300u);
  EXPECT_EQ(a, b);  // same samples, same fault-free labels
  EXPECT_GT(accuracy(b), 0.8);
  auto top1_line = [](const std::string& out) {
    const auto at = out.find("Top-1 accuracy (fault-free):");
    return at == std::string::npos ? "(none)" : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(top1_line(tf2.out), top1_line(demo.out));
  EXPECT_NE(top1_line(tf2.out), "(none)") << tf2.out;
  const PreprocessConfig p = stored_preprocess(dir + "/tf2");
  EXPECT_DOUBLE_EQ(p.scale, 1.0 / 255.0);
  EXPECT_EQ(p.mean, (std::vector<double>{0.2860}));
  EXPECT_EQ(p.std, (std::vector<double>{0.3530}));
}

// Without the metadata, the same run is at chance level and says so, twice, naming what to set;
// it still finishes.
TEST(PreprocessSources, ChanceLevelAndRawInputsWarn) {
  const std::string dir = test::temp_dir("pp_chance");
  const std::string bare = model_copy(dir, std::nullopt);
  const auto r = run_cli("campaign " + tensorfi2_config(dir) + " --model " + bare + kDataFlags +
                         " --samples 200 --trials 20 -q -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(accuracy(inputs_of(dir + "/out")), 0.15);
  EXPECT_NE(r.err.find("dnnfi: warning: inputs range over [0, "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dnnfi: warning: fault-free Top-1 accuracy is"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at chance level for 10 classes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("preprocess.scale"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--scale"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bare + ".preprocess.yaml"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;  // two one-line warnings
  EXPECT_NE(r.out.find("Top-1 accuracy"), std::string::npos);  // the campaign still reports

  // An explicit scale says the raw range is intended: no range warning, the accuracy one stays.
  const auto s = run_cli("campaign " + tensorfi2_config(dir) + " --model " + bare + kDataFlags +
                         " --samples 200 --trials 20 --scale 1 -q -o " + dir + "/out2");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.err.find("range over"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("at chance level"), std::string::npos) << s.err;

  // The flags that fix it: the model's real accuracy and no warning.
  const auto f = run_cli("campaign " + tensorfi2_config(dir) + " --model " + bare + kDataFlags +
                         " --samples 200 --trials 20 --scale 0.00392156862745098 --mean 0.2860 "
                         "--std 0.3530 -q -o " +
                         dir + "/out3");
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.err.find("warning"), std::string::npos) << f.err;
  EXPECT_GT(accuracy(inputs_of(dir + "/out3")), 0.8);
}

// The library's warnings go through the one log sink.
TEST(PreprocessSources, WarningsGoThroughTheLogSink) {
  const std::string dir = test::temp_dir("pp_sink");
  auto c = idx_config(model_copy(dir, std::nullopt));
  c.samples = 100;
  c.trials = 5;
  c.output = dir + "/out";
  std::vector<std::string> lines;
  set_log_sink([&](LogLevel, const std::string& m) { lines.push_back(m); });
  try {
    run_campaign(c, {});
  } catch (...) {
    set_log_sink(nullptr);
    throw;
  }
  set_log_sink(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("range over"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("chance level"), std::string::npos) << lines[1];
  for (const auto& l : lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
}

// Metadata < sidecar < config < flags, key by key.
TEST(PreprocessSources, PrecedenceKeyByKey) {
  const std::string dir = test::temp_dir("pp_order");
  const std::string model =
      model_copy(dir, "{scale: 0.5, mean: [0.1], std: [0.2], layout: nchw, grayscale: true}");
  {
    const CampaignContext ctx(idx_config(model));
    EXPECT_EQ(ctx.preprocess().scale, 0.5);
    EXPECT_EQ(ctx.preprocess().mean, (std::vector<double>{0.1}));
    EXPECT_EQ(ctx.preprocess().std, (std::vector<double>{0.2}));
    EXPECT_TRUE(ctx.preprocess().grayscale);
    EXPECT_EQ(ctx.config().preprocess.origin.at("scale"),
              model + ": metadata_props dnnfi.preprocess");
  }
  const std::string sidecar = write(model + ".preprocess.yaml", "mean: [0.3]\nstd: 0.4\n");
  {
    const CampaignContext ctx(idx_config(model));
    EXPECT_EQ(ctx.preprocess().scale, 0.5);                        // metadata
    EXPECT_EQ(ctx.preprocess().mean, (std::vector<double>{0.3}));  // sidecar
    EXPECT_EQ(ctx.preprocess().std, (std::vector<double>{0.4}));   // sidecar
    EXPECT_EQ(ctx.config().preprocess.origin.at("mean"), sidecar);
  }
  const std::string cfg = write(dir + "/c.yaml", "preprocess:\n  std: [0.6]\n  grayscale: false\n");
  auto c = load_campaign_config(cfg);
  c.model = model;
  c.dataset = idx_config(model).dataset;
  c.has_dataset = true;
  c.samples = 20;
  {
    const CampaignContext ctx(c);
    EXPECT_EQ(ctx.preprocess().scale, 0.5);                        // metadata
    EXPECT_EQ(ctx.preprocess().mean, (std::vector<double>{0.3}));  // sidecar
    EXPECT_EQ(ctx.preprocess().std, (std::vector<double>{0.6}));   // config
    EXPECT_FALSE(ctx.preprocess().grayscale);                      // config
  }
  // The same through the CLI, with flags on top; the database records what ran.
  const auto r = run_cli("campaign " + cfg + " --model " + model + kDataFlags +
                         " --samples 20 --trials 5 --mean 0.7 --resize 28 -q -o " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const PreprocessConfig p = stored_preprocess(dir + "/out");
  EXPECT_EQ(p.scale, 0.5);                        // metadata
  EXPECT_EQ(p.mean, (std::vector<double>{0.7}));  // flag over sidecar
  EXPECT_EQ(p.std, (std::vector<double>{0.6}));   // config over sidecar and metadata
  EXPECT_EQ(p.resize, (std::vector<int>{28}));    // flag
  EXPECT_FALSE(p.grayscale);                      // config over metadata
}

// The golden pass really uses the layered values: a sidecar that breaks the model's own
// normalization moves the accuracy, and removing it restores it.
TEST(PreprocessSources, SidecarChangesTheGoldenPass) {
  const std::string dir = test::temp_dir("pp_side_run");
  const std::string model = model_copy(dir,
                                       "{scale: 0.00392156862745098, mean: [0.2860], "
                                       "std: [0.3530]}");
  auto run = [&](const std::string& out) {
    const auto r = run_cli("campaign " + tensorfi2_config(dir) + " --model " + model + kDataFlags +
                           " --samples 200 --trials 5 -q -o " + dir + "/" + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return accuracy(inputs_of(dir + "/" + out));
  };
  const double with_metadata = run("a");
  write(model + ".preprocess.yaml", "scale: 1\n");  // raw pixels again
  const double with_sidecar = run("b");
  EXPECT_GT(with_metadata, 0.8);
  EXPECT_LT(with_sidecar, with_metadata - 0.3);
}

// A replay uses the preprocessing stored with the campaign, whatever the sidecar says later; a
// resume with a changed sidecar is a different campaign.
TEST(PreprocessSources, ReplayAndResumeUseTheStoredPreprocessing) {
  const std::string dir = test::temp_dir("pp_replay");
  const std::string model = model_copy(dir,
                                       "{scale: 0.00392156862745098, mean: [0.2860], "
                                       "std: [0.3530]}");
  const std::string out = dir + "/out";
  const std::string cmd = "campaign " + tensorfi2_config(dir) + " --model " + model + kDataFlags +
                          " --samples 30 --trials 30 -q -o " + out;
  ASSERT_EQ(run_cli(cmd).exit_code, 0);
  write(model + ".preprocess.yaml", "scale: 1\nmean: 0\nstd: 1\n");
  for (std::int64_t t : {0, 7, 29}) EXPECT_TRUE(replay_trial(out, t).identical) << "trial " << t;
  expect_one_line_error(run_cli(cmd + " --resume"), "different campaign");
}

TEST(PreprocessSources, BadMetadataIsAOneLineErrorNamingFileAndKey) {
  const std::string dir = test::temp_dir("pp_bad_meta");
  const std::string tf2 = tensorfi2_config(dir);
  auto campaign = [&](const std::string& model) {
    return run_cli("campaign " + tf2 + " --model " + model + kDataFlags + " -o " + dir + "/out");
  };
  const std::string where = dir + "/model.onnx: metadata_props dnnfi.preprocess: ";
  expect_one_line_error(campaign(model_copy(dir, "{scale: abc}")),
                        where + "scale: cannot read 'abc' as a number");
  expect_one_line_error(run_cli("inspect " + dir + "/model.onnx"), where + "scale");
  expect_one_line_error(campaign(model_copy(dir, "{std: [0.3, 0]}")), where + "std: must be");
  expect_one_line_error(campaign(model_copy(dir, "{scael: 0.5}")), where + "scael: unknown key");
  expect_one_line_error(campaign(model_copy(dir, "{layout: hwc}")), where + "layout");
  expect_one_line_error(campaign(model_copy(dir, "{scale: [1")), where + "malformed YAML");
  expect_one_line_error(campaign(model_copy(dir, "[0.5]")),
                        where + "top level: expected a mapping");
  // The values parse but do not fit the model's one input channel.
  expect_one_line_error(campaign(model_copy(dir, "{mean: [0.1, 0.2, 0.3]}")),
                        dir + "/model.onnx: metadata_props dnnfi.preprocess: mean: 3 values");
  EXPECT_FALSE(fs::exists(dir + "/out/results.sqlite"));
}

TEST(PreprocessSources, BadSidecarIsAOneLineErrorNamingFileAndKey) {
  const std::string dir = test::temp_dir("pp_bad_side");
  const std::string model = model_copy(dir, "{scale: 0.5}");
  const std::string sidecar = model + ".preprocess.yaml";
  const std::string cmd = "campaign " + tensorfi2_config(dir) + " --model " + model + kDataFlags +
                          " -o " + dir + "/out";
  write(sidecar, "scale: 1\nstd: [0]\n");
  expect_one_line_error(run_cli(cmd), sidecar + ":2: std: must be non-zero");
  write(sidecar, "mean: 0.1\ncenter_crop: [0, 3]\n");
  expect_one_line_error(run_cli(cmd), sidecar + ":2: center_crop");
  write(sidecar, "preprocess:\n  scale: 1\n");
  expect_one_line_error(run_cli(cmd), sidecar + ":1: preprocess: unknown key");
  write(sidecar, "std: [0.1, 0.2]\n");
  expect_one_line_error(run_cli(cmd), sidecar + ": std: 2 values");
  write(sidecar, "scale: x\n");
  expect_one_line_error(run_cli("inspect " + model), sidecar + ":1: scale");  // inspect reads it
  fs::remove(sidecar);
  fs::create_directory(sidecar);
  expect_one_line_error(run_cli(cmd), sidecar);
}

TEST(PreprocessSources, BadFlagsAreOneLineErrorsNamingTheFlag) {
  const std::string dir = test::temp_dir("pp_bad_flags");
  const std::string cmd = "campaign " + tensorfi2_config(dir) + " --model " + kModel + kDataFlags +
                          " -o " + dir + "/o ";
  expect_one_line_error(run_cli(cmd + "--scale abc"),
                        "command line: --scale: cannot read 'abc' as a number");
  expect_one_line_error(run_cli(cmd + "--std 0.3,0"), "command line: --std: must be non-zero");
  expect_one_line_error(run_cli(cmd + "--layout hwc"), "command line: --layout");
  expect_one_line_error(run_cli(cmd + "--center-crop 3,4,5"), "command line: --center-crop");
  expect_one_line_error(run_cli(cmd + "--mean 0.1,0.2"), "command line: mean: 2 values");
}

TEST(PreprocessSources, InspectPrintsWhatTheModelCarries) {
  const auto r = run_cli("inspect " + kModel);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("preprocess: scale 0.00392156862745098, mean [0.286], std [0.353] (from " +
                       kModel + ": metadata_props dnnfi.preprocess)"),
            std::string::npos)
      << r.out;
  const std::string dir = test::temp_dir("pp_inspect");
  const std::string bare = model_copy(dir, std::nullopt);
  auto n = run_cli("inspect " + bare);
  ASSERT_EQ(n.exit_code, 0) << n.err;
  EXPECT_NE(n.out.find("preprocess: none carried"), std::string::npos) << n.out;
  write(bare + ".preprocess.yaml", "layout: nhwc\nchannels: bgr\n");
  n = run_cli("inspect " + bare);
  EXPECT_NE(n.out.find("preprocess: channels bgr, layout nhwc (from " + bare + ".preprocess.yaml)"),
            std::string::npos)
      << n.out;
}

// The parser is the config section's: the same keys, the same checks, in every source.
TEST(PreprocessSources, OneParserForEverySource) {
  const auto file =
      parse_preprocess_yaml("scale: 0.5\ncenter_crop: 24\nchannels: bgr\n", "f", true);
  EXPECT_EQ(file.scale, 0.5);
  EXPECT_EQ(file.center_crop, (std::vector<int>{24, 24}));
  EXPECT_EQ(file.bgr, true);
  EXPECT_FALSE(file.mean.has_value());
  EXPECT_TRUE(parse_preprocess_yaml("", "f", true).empty());
  const auto flags =
      parse_preprocess_flags({{"mean", {"0.1", "0.2", "0.3"}}, {"layout", {"nhwc"}}});
  EXPECT_EQ(flags.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(flags.nhwc, true);
  EXPECT_EQ(flags.origin.at("mean"), "command line");
  const auto c = parse_campaign_config("preprocess:\n  std: [0.5]\n", "c.yaml", "");
  EXPECT_EQ(c.preprocess.std, (std::vector<double>{0.5}));
  EXPECT_FALSE(c.preprocess.scale.has_value());
  PreprocessSettings base = file;
  base.overlay(flags);
  EXPECT_EQ(base.scale, 0.5);
  EXPECT_EQ(base.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(base.origin.at("scale"), "f");
  EXPECT_EQ(base.origin.at("layout"), "command line");
}

}  // namespace
}  // namespace dnnfi
