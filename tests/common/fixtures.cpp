#include "common/fixtures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/npy.h"
#include "exec/model_file.h"

namespace dnnfi::test {

std::vector<Fixture> model_fixtures() {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(DNNFI_SOURCE_DIR) / "tests/models/data";
  std::vector<Fixture> out;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "model.onnx")) continue;
    out.push_back({entry.path().filename().string(), (entry.path() / "model.onnx").string(),
                   (entry.path() / "input.npy").string(),
                   (entry.path() / "expected.npy").string()});
  }
  std::sort(out.begin(), out.end(),
            [](const Fixture& a, const Fixture& b) { return a.name < b.name; });
  return out;
}

Fixture default_model_fixture() {
  const std::string root = std::string(DNNFI_SOURCE_DIR) + "/models/";
  return {"fmnist_resnet", root + "fmnist_resnet.onnx", root + "fmnist_sample_input.npy",
          root + "fmnist_sample_expected.npy"};
}

CampaignConfig fmnist_campaign_config(const std::string& out, std::int64_t trials,
                                      std::int64_t samples, bool labelled) {
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  CampaignConfig c;
  c.source = "test";
  c.model = default_model_fixture().model;
  c.dataset.format = DatasetFormat::kIdx;
  c.dataset.paths = {data + "t10k-images-idx3-ubyte.gz"};
  if (labelled) c.dataset.labels = data + "t10k-labels-idx1-ubyte.gz";
  c.has_dataset = true;
  c.samples = samples;
  c.preprocess.scale = 1.0 / 255.0;
  c.preprocess.mean = std::vector<double>{0.2860};
  c.preprocess.std = std::vector<double>{0.3530};
  c.trials = trials;
  c.seed = 7;
  c.threads = 1;
  c.output = out;
  return c;
}

LoadedFixture load_for_injection(const Fixture& f, bool channels_last) {
  Tensor input = load_npy(f.input);
  Graph g = load_model(f.model);
  SessionOptions opts;
  opts.channels_last = channels_last;
  opts.input_shapes[g.values[g.inputs[0]].name] = input.shape();
  LoadedFixture l;
  l.session = Session::create(std::move(g), opts);
  l.injector = std::make_unique<Injector>(l.session);
  l.golden = l.injector->golden({input});
  return l;
}

Fault random_fp32_site_fault(const Session& s, std::mt19937_64& gen) {
  const Graph& g = s.graph();
  std::vector<int> candidates;
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const TensorInfo& info = s.info(static_cast<int>(v));
    if (info.dtype == DType::kFloat32 && info.numel() > 0)
      candidates.push_back(static_cast<int>(v));
  }
  Fault f;
  const int v = candidates[gen() % candidates.size()];
  const Value& val = g.values[static_cast<std::size_t>(v)];
  f.site.value = v;
  f.site.node = val.producer;
  f.site.kind = val.producer >= 0
                    ? SiteKind::kNodeOutput
                    : (val.is_initializer ? SiteKind::kWeight : SiteKind::kGraphInput);
  f.site.flat_index =
      static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(s.info(v).numel()));
  return f;
}

BitFlipTally check_bit_flips_cone_equals_full(const LoadedFixture& l, DType dtype, int trials,
                                              int odd_trial_bit, std::uint64_t seed) {
  const Session& s = *l.session;
  const int width = static_cast<int>(dtype_size(dtype) * 8);
  BitFlipTally tally;
  std::vector<int> values;
  for (std::size_t v = 0; v < s.graph().values.size(); ++v) {
    if (s.info(static_cast<int>(v)).dtype != dtype) continue;
    if (s.graph().values[v].is_initializer) ++tally.weights;
    values.push_back(static_cast<int>(v));
  }
  if (values.empty()) {
    ADD_FAILURE() << "no " << dtype_name(dtype) << " values";
    return tally;
  }
  Fault bad;
  bad.site = l.injector->site_of_value(values[0], 0);
  bad.model = FaultModel{FaultModelKind::kBitFlip, {width}};
  EXPECT_THROW(l.injector->validate(bad), InputError);

  std::mt19937_64 gen(seed);
  TrialWorkspace ws_cone, ws_super, ws_full;
  TrialOptions opt;
  opt.keep_outputs = true;
  for (int t = 0; t < trials; ++t) {
    const int v = values[gen() % values.size()];
    Fault f;
    f.site = l.injector->site_of_value(
        v, static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(s.info(v).numel())));
    f.model = FaultModel{FaultModelKind::kBitFlip,
                         {t % 2 ? odd_trial_bit : static_cast<int>(gen() % width)}};
    l.injector->validate(f);
    opt.strategy = Strategy::kCone;
    const TrialResult cone = l.injector->run_trial(l.golden, {&f, 1}, opt, ws_cone);
    opt.strategy = Strategy::kSuperlayer;
    const TrialResult super = l.injector->run_trial(l.golden, {&f, 1}, opt, ws_super);
    opt.strategy = Strategy::kFull;
    const TrialResult full = l.injector->run_trial(l.golden, {&f, 1}, opt, ws_full);
    for (const TrialResult* r : {&cone, &super}) {
      EXPECT_EQ(r->outcome, full.outcome) << "trial " << t;
      EXPECT_EQ(r->outputs.size(), full.outputs.size()) << "trial " << t;
      for (std::size_t i = 0; i < std::min(r->outputs.size(), full.outputs.size()); ++i) {
        EXPECT_TRUE(r->outputs[i].bit_equal(full.outputs[i])) << "trial " << t;
      }
    }
    if (::testing::Test::HasFailure()) return tally;  // one broken trial says enough
    EXPECT_EQ(cone.applied.size(), 1u);
    if (cone.applied.size() == 1) {
      EXPECT_EQ(cone.applied[0].dtype, dtype);
      EXPECT_EQ(cone.applied[0].bits_before ^ cone.applied[0].bits_after,
                std::uint64_t{1} << f.model.bits[0]);
    }
    ++tally.trials;
    tally.not_masked += cone.outcome != Outcome::kMasked;
    tally.weight_sdc += f.site.kind == SiteKind::kWeight && cone.outcome != Outcome::kMasked;
  }
  return tally;
}

void expect_session_variants_match(
    const std::function<std::shared_ptr<const Session>(SessionOptions)>& make, const Tensor& input,
    const Tensor& expected, double rel_tol, const std::string& oracle) {
  double scale = 0.0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    scale = std::max(scale, std::abs(expected.get_as_double(i)));
  }
  struct Variant {
    const char* what;
    bool reference, fuse;
    int threads;
  };
  for (const Variant& v :
       {Variant{"plain", false, false, 1}, Variant{"reference kernels", true, false, 1},
        Variant{"fused, channels-last (dnnfi run)", false, true, 1},
        Variant{"two threads", false, true, 2}}) {
    SCOPED_TRACE(v.what);
    SessionOptions opts;
    opts.reference_kernels = v.reference;
    opts.fuse = opts.channels_last = v.fuse;
    opts.threads = v.threads;
    std::vector<Tensor> out;
    const Status st = make(opts)->run_once({&input, 1}, out);
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].dtype(), DType::kFloat32);  // keep_io_types: float32 at the boundary
    ASSERT_EQ(out[0].shape(), expected.shape());
    double diff = 0.0;
    for (std::int64_t i = 0; i < expected.numel(); ++i) {
      diff = std::max(diff, std::abs(out[0].get_as_double(i) - expected.get_as_double(i)));
    }
    EXPECT_LE(diff, rel_tol * scale) << "max |output| " << scale;
    EXPECT_EQ(top1_per_row(out[0]), top1_per_row(expected));
    ::testing::Test::RecordProperty(std::string(v.what) + " max abs diff vs " + oracle,
                                    std::to_string(diff));
  }
}

Tensor tensor_from_bits16(DType dtype, Shape shape, const std::vector<std::uint16_t>& bits) {
  Tensor t(dtype, std::move(shape));
  std::memcpy(t.raw(), bits.data(), std::min<std::size_t>(bits.size() * 2, t.nbytes()));
  return t;
}

std::uint16_t bits16_at(const Tensor& t, std::int64_t i) { return t.data<std::uint16_t>()[i]; }

}  // namespace dnnfi::test
