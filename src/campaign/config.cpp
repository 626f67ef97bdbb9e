#include "campaign/config.h"

#include <fmt/core.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <type_traits>

#include "core/error.h"
#include "fi/fault.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;

// Error helpers: every message names the source, the line and the key.
[[noreturn]] void fail_at(const std::string& what, const YAML::Node& node, const std::string& key,
                          const std::string& msg) {
  const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
  throw InputError(fmt::format("{}:{}: {}: {}", what, line, key, msg));
}

struct Reader {
  std::string what;
  std::string base_dir;
  // False when `what` is not a file whose lines a user can look up (a model's metadata value,
  // command-line flags): errors then read "<what>: <key>: <message>".
  bool lines = true;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& msg) const {
    if (lines) fail_at(what, node, key, msg);
    throw InputError(fmt::format("{}: {}: {}", what, key, msg));
  }

  void check_keys(const YAML::Node& map, const std::string& section,
                  const std::set<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, section.empty() ? "config" : section, "expected a mapping");
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        fail_at(what, kv.first, section.empty() ? "config" : section,
                "a key must be a plain name, not a list or a mapping");
      }
      const std::string key = kv.first.Scalar();
      if (!allowed.contains(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, section.empty() ? key : section + "." + key,
             "unknown key (known: " + list + ")");
      }
    }
  }

  template <typename T>
  T get(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, key, "expected a single value");
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, key, "cannot read '" + node.Scalar() + "' as " + type_name<T>());
    }
  }

  template <typename T>
  std::vector<T> get_list(const YAML::Node& node, const std::string& key) const {
    std::vector<T> out;
    if (node.IsScalar()) {
      out.push_back(get<T>(node, key));
      return out;
    }
    if (!node.IsSequence()) fail(node, key, "expected a value or a list");
    for (const auto& item : node) out.push_back(get<T>(item, key));
    return out;
  }

  std::string path(const YAML::Node& node, const std::string& key) const {
    const auto p = get<std::string>(node, key);
    if (p.empty()) fail(node, key, "empty path");
    return resolve(p);
  }

  std::string resolve(const std::string& p) const {
    fs::path fp(p);
    if (fp.is_relative() && !base_dir.empty()) fp = fs::path(base_dir) / fp;
    return fp.lexically_normal().string();
  }

  template <typename T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true/false";
    if constexpr (std::is_integral_v<T>) return "an integer";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    return "a string";
  }
};

SiteKind parse_target(const Reader& r, const YAML::Node& n, const std::string& key) {
  const auto s = r.get<std::string>(n, key);
  if (s == "node_output" || s == "layer_outputs" || s == "layer_output")
    return SiteKind::kNodeOutput;
  if (s == "weight" || s == "layer_states" || s == "layer_state") return SiteKind::kWeight;
  if (s == "input" || s == "graph_input") return SiteKind::kGraphInput;
  fail_at(r.what, n, key, "'" + s + "' is not one of node_output, weight, input");
}

void parse_dataset(const Reader& r, const YAML::Node& d, CampaignConfig& c) {
  r.check_keys(d, "dataset",
               {"format", "path", "paths", "labels", "data_key", "labels_key", "layout",
                "cifar_labels", "samples", "only_correct"});
  c.has_dataset = true;
  if (!d["format"]) fail_at(r.what, d, "dataset.format", "missing");
  try {
    c.dataset.format = parse_dataset_format(r.get<std::string>(d["format"], "dataset.format"));
  } catch (const InputError& e) {
    fail_at(r.what, d["format"], "dataset.format", e.what());
  }
  for (const char* key : {"path", "paths"}) {
    if (!d[key]) continue;
    for (const auto& p : r.get_list<std::string>(d[key], std::string("dataset.") + key)) {
      c.dataset.paths.push_back(r.resolve(p));
    }
  }
  if (c.dataset.paths.empty()) fail_at(r.what, d, "dataset.path", "missing");
  if (d["labels"]) c.dataset.labels = r.path(d["labels"], "dataset.labels");
  if (d["data_key"]) c.dataset.data_key = r.get<std::string>(d["data_key"], "dataset.data_key");
  if (d["labels_key"]) {
    c.dataset.labels_key = r.get<std::string>(d["labels_key"], "dataset.labels_key");
  }
  if (d["layout"]) {
    c.dataset.array_layout = r.get<std::string>(d["layout"], "dataset.layout");
    const std::set<std::string> ok{"tensor", "hwc", "chw", "hw"};
    if (!ok.contains(c.dataset.array_layout)) {
      fail_at(r.what, d["layout"], "dataset.layout", "expected tensor, hwc, chw or hw");
    }
  }
  if (d["cifar_labels"]) {
    const auto s = r.get<std::string>(d["cifar_labels"], "dataset.cifar_labels");
    if (s != "fine" && s != "coarse") {
      fail_at(r.what, d["cifar_labels"], "dataset.cifar_labels", "expected fine or coarse");
    }
    c.dataset.cifar_fine_labels = s == "fine";
  }
  if (d["samples"]) {
    c.samples = r.get<std::int64_t>(d["samples"], "dataset.samples");
    if (c.samples < 0) fail_at(r.what, d["samples"], "dataset.samples", "must be >= 0");
  }
  if (d["only_correct"]) c.only_correct = r.get<bool>(d["only_correct"], "dataset.only_correct");
}

// The preprocessing keys, wherever they come from (the config's preprocess: section, a model's
// sidecar file or metadata, command-line flags); `name` turns a key into what errors call it.
const std::set<std::string> kPreprocessKeys{
    "grayscale", "bgr", "channels", "resize", "center_crop", "scale", "mean", "std", "layout"};

PreprocessSettings parse_preprocess(const Reader& r, const YAML::Node& p,
                                    const std::function<std::string(const std::string&)>& name,
                                    const std::string& section) {
  PreprocessSettings pp;
  if (p.IsNull()) return pp;  // an empty section or file sets nothing
  if (!p.IsMap()) {
    r.fail(p, section.empty() ? "top level" : section,
           "expected a mapping of preprocessing keys, such as {scale: 0.5, mean: [0.5]}");
  }
  r.check_keys(p, section, kPreprocessKeys);
  auto origin = [&](const char* key) { pp.origin[key] = r.what; };
  if (p["grayscale"]) {
    pp.grayscale = r.get<bool>(p["grayscale"], name("grayscale"));
    origin("grayscale");
  }
  if (p["bgr"]) {
    pp.bgr = r.get<bool>(p["bgr"], name("bgr"));
    origin("channels");
  }
  if (p["channels"]) {
    const auto s = r.get<std::string>(p["channels"], name("channels"));
    if (s != "rgb" && s != "bgr") r.fail(p["channels"], name("channels"), "rgb or bgr");
    pp.bgr = s == "bgr";
    origin("channels");
  }
  auto dims = [&](const char* key, std::optional<std::vector<int>>& out) {
    if (!p[key]) return;
    out = r.get_list<int>(p[key], name(key));
    if (out->empty() || out->size() > 2 ||
        std::any_of(out->begin(), out->end(), [](int v) { return v <= 0; })) {
      r.fail(p[key], name(key), "expected [h, w] or [size] > 0");
    }
    origin(key);
  };
  dims("resize", pp.resize);
  dims("center_crop", pp.center_crop);
  if (pp.center_crop && pp.center_crop->size() == 1) {
    pp.center_crop = std::vector<int>{(*pp.center_crop)[0], (*pp.center_crop)[0]};
  }
  if (p["scale"]) {
    pp.scale = r.get<double>(p["scale"], name("scale"));
    if (!std::isfinite(*pp.scale)) r.fail(p["scale"], name("scale"), "must be finite");
    origin("scale");
  }
  if (p["mean"]) {
    pp.mean = r.get_list<double>(p["mean"], name("mean"));
    for (double m : *pp.mean) {
      if (!std::isfinite(m)) r.fail(p["mean"], name("mean"), "must be finite");
    }
    origin("mean");
  }
  if (p["std"]) {
    pp.std = r.get_list<double>(p["std"], name("std"));
    for (double s : *pp.std) {
      if (!(s != 0.0) || !std::isfinite(s)) r.fail(p["std"], name("std"), "must be non-zero");
    }
    origin("std");
  }
  if (p["layout"]) {
    const auto s = r.get<std::string>(p["layout"], name("layout"));
    if (s != "nchw" && s != "nhwc") r.fail(p["layout"], name("layout"), "nchw or nhwc");
    pp.nhwc = s == "nhwc";
    origin("layout");
  }
  return pp;
}

void parse_faults(const Reader& r, const YAML::Node& f, CampaignConfig& c) {
  r.check_keys(
      f, "faults",
      {"target", "model", "bits", "bit_range", "bits_per_fault", "sites", "per_trial", "percent",
       "spread", "op_types", "name_regex", "nodes", "layer_index", "dtypes", "value", "range"});
  SamplerConfig& s = c.faults;
  if (f["target"]) s.target = parse_target(r, f["target"], "faults.target");
  if (f["model"]) {
    try {
      s.model.kind = parse_fault_model_kind(r.get<std::string>(f["model"], "faults.model"));
    } catch (const InputError& e) {
      fail_at(r.what, f["model"], "faults.model", e.what());
    }
    if (s.model.kind == FaultModelKind::kCallback) {
      fail_at(r.what, f["model"], "faults.model", "callbacks exist only in the C++ API");
    }
  }
  if (f["bits"]) s.model.bits = r.get_list<int>(f["bits"], "faults.bits");
  if (f["bit_range"]) {
    const auto br = r.get_list<int>(f["bit_range"], "faults.bit_range");
    if (br.size() != 2) fail_at(r.what, f["bit_range"], "faults.bit_range", "expected [lo, hi]");
    s.bit_lo = br[0];
    s.bit_hi = br[1];
  }
  if (f["bits_per_fault"])
    s.bits_per_fault = r.get<int>(f["bits_per_fault"], "faults.bits_per_fault");
  if (f["sites"]) {
    const auto v = r.get<std::string>(f["sites"], "faults.sites");
    if (v == "uniform_node") {
      s.policy = SitePolicy::kUniformNode;
    } else if (v == "size_weighted") {
      s.policy = SitePolicy::kSizeWeighted;
    } else {
      fail_at(r.what, f["sites"], "faults.sites", "expected uniform_node or size_weighted");
    }
  }
  if (f["per_trial"]) s.faults_per_trial = r.get<int>(f["per_trial"], "faults.per_trial");
  if (f["percent"]) s.percent_per_site = r.get<double>(f["percent"], "faults.percent");
  if (f["spread"]) {
    const auto v = r.get<std::string>(f["spread"], "faults.spread");
    if (v == "independent") {
      s.independent_sites = true;
    } else if (v == "same_site") {
      s.independent_sites = false;
    } else if (v == "every_site") {
      s.independent_sites = false;
      s.every_site = true;
    } else {
      fail_at(r.what, f["spread"], "faults.spread",
              "expected independent, same_site or every_site");
    }
  }
  if (f["op_types"]) s.op_types = r.get_list<std::string>(f["op_types"], "faults.op_types");
  if (f["name_regex"]) s.name_regex = r.get<std::string>(f["name_regex"], "faults.name_regex");
  if (f["nodes"]) s.names = r.get_list<std::string>(f["nodes"], "faults.nodes");
  if (f["layer_index"]) s.layer_index = r.get<int>(f["layer_index"], "faults.layer_index");
  if (f["dtypes"]) {
    for (const auto& name : r.get_list<std::string>(f["dtypes"], "faults.dtypes")) {
      const DType dt = dtype_from_name(name);
      if (dt == DType::kUndefined)
        fail_at(r.what, f["dtypes"], "faults.dtypes", "unknown dtype " + name);
      s.dtypes.push_back(dt);
    }
  }
  if (f["value"]) s.model.value = r.get<double>(f["value"], "faults.value");
  if (f["range"]) {
    const auto rg = r.get_list<double>(f["range"], "faults.range");
    if (rg.size() != 2 || !(rg[0] < rg[1])) {
      fail_at(r.what, f["range"], "faults.range", "expected [lo, hi] with lo < hi");
    }
    s.model.lo = rg[0];
    s.model.hi = rg[1];
  }
}

// TensorFI2 / TensorFI+ fault configs (see docs/campaigns.md for the mapping).
void parse_tensorfi2(const Reader& r, const YAML::Node& root, CampaignConfig& c) {
  SamplerConfig& s = c.faults;
  c.tensorfi2 = true;
  s.target = root["Target"] ? parse_target(r, root["Target"], "Target") : SiteKind::kNodeOutput;
  if (root["Layer"]) {
    const std::string layer = r.get<std::string>(root["Layer"], "Layer");
    if (layer != "N") {
      s.layer_index = r.get<int>(root["Layer"], "Layer");
      if (s.layer_index < 0) fail_at(r.what, root["Layer"], "Layer", "expected N or an index >= 0");
    }
  }
  // Early TensorFI2 configs name the target in Mode (Mode: layer_states) and have no Target.
  if (!root["Target"] && root["Mode"]) {
    const std::string m = r.get<std::string>(root["Mode"], "Mode");
    if (m != "single" && m != "multiple") {
      s.target = parse_target(r, root["Mode"], "Mode");
      s.independent_sites = false;
      c.faults.dtypes = {DType::kFloat32};
    }
  }
  // TensorFI2 faults float32 values only: trainable variables, layer activations.
  s.dtypes = {DType::kFloat32};
  std::string mode = root["Mode"] ? r.get<std::string>(root["Mode"], "Mode") : "single";
  if (!root["Target"] && mode != "multiple") mode = "single";  // Mode named the target
  if (mode == "single") {
    s.independent_sites = false;
  } else if (mode == "multiple") {
    s.independent_sites = false;
    s.every_site = true;
  } else {
    fail_at(r.what, root["Mode"], "Mode", "'" + mode + "' is not single or multiple");
  }
  const std::string type = root["Type"] ? r.get<std::string>(root["Type"], "Type") : "bitflips";
  double amount = 1.0;
  if (root["Amount"]) amount = r.get<double>(root["Amount"], "Amount");
  if (type == "bitflips" || type == "random") {
    if (amount < 1.0 || amount != std::floor(amount) || amount > kMaxFaultsPerTrial) {
      fail_at(r.what, root["Amount"], "Amount",
              fmt::format("must be a whole number in 1..{} for {}", kMaxFaultsPerTrial, type));
    }
    s.faults_per_trial = static_cast<int>(amount);
  } else if (type == "zeros") {
    if (amount < 0.0 || amount > 100.0)
      fail_at(r.what, root["Amount"], "Amount", "a percent 0..100");
    s.percent_per_site = amount;
  } else {
    fail_at(r.what, root["Type"], "Type", "'" + type + "' is not bitflips, zeros or random");
  }
  if (type == "bitflips") {
    s.model.kind = FaultModelKind::kBitFlip;
    s.bits_per_fault = 1;
    s.bit_lo = 0;
    s.bit_hi = 31;
    if (root["Bit"]) {
      const std::string bit = r.get<std::string>(root["Bit"], "Bit");
      if (bit != "N") {
        const int b = r.get<int>(root["Bit"], "Bit");
        if (b < 0 || b > 31) fail_at(r.what, root["Bit"], "Bit", "expected 0..31 or N");
        s.model.bits = {b};
      }
    }
  } else {
    if (root["Bit"]) fail_at(r.what, root["Bit"], "Bit", "applies only to Type: bitflips");
    if (type == "zeros") {
      s.model.kind = FaultModelKind::kSetZero;
    } else {
      s.model.kind = FaultModelKind::kRandomValue;
      s.model.lo = 0.0;
      s.model.hi = 1.0;
    }
  }
}

std::string strategy_or_throw(const Reader& r, const YAML::Node& n, Strategy& out) {
  const auto s = r.get<std::string>(n, "strategy");
  try {
    out = parse_strategy(s);
  } catch (const InputError& e) {
    fail_at(r.what, n, "strategy", e.what());
  }
  return s;
}

std::string batch_range_message() {
  return fmt::format("must be auto or in 1..{} (trials per batched pass)", kMaxBatch);
}

}  // namespace

bool parse_activation_layout(const std::string& text) {
  if (text == "nchw" || text == "nhwc") return text == "nhwc";
  throw InputError("must be nchw or nhwc, not '" + text + "'");
}

void parse_batch(const std::string& text, CampaignConfig& c) {
  if (text == "auto") {
    c.batch = kAutoBatch;
    c.batch_auto = true;
    return;
  }
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kMaxBatch) {
    throw InputError(batch_range_message());
  }
  c.batch = n;
  c.batch_auto = false;
}

CampaignConfig parse_campaign_config(const std::string& yaml, const std::string& what,
                                     const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", what, e.mark.line + 1, e.msg));
  }
  CampaignConfig c;
  c.source = what;
  if (root.IsNull()) throw InputError(what + ": empty config");
  const Reader r{what, base_dir};
  r.check_keys(root, "",
               {"model",
                "dataset",
                "preprocess",
                "faults",
                "trials",
                "target_halfwidth",
                "checkpoint",
                "trials_per_input",
                "input_order",
                "seed",
                "threads",
                "golden_cache_mb",
                "batch",
                "strategy",
                "activation_layout",
                "time_limit",
                "output",
                "shard",
                "Target",
                "Mode",
                "Type",
                "Amount",
                "Bit",
                "Layer"});
  if (root["model"]) c.model = r.path(root["model"], "model");
  if (root["dataset"]) parse_dataset(r, root["dataset"], c);
  if (root["preprocess"]) {
    c.preprocess = parse_preprocess(
        r, root["preprocess"], [](const std::string& k) { return "preprocess." + k; },
        "preprocess");
  }
  const bool tf2 = root["Target"] || root["Mode"] || root["Type"] || root["Amount"] ||
                   root["Bit"] || root["Layer"];
  if (tf2 && root["faults"]) {
    fail_at(what, root["faults"], "faults",
            "give the fault spec either as TensorFI2 keys (Target/Mode/Type/Amount/Bit) or as "
            "faults:, not both");
  }
  if (tf2) parse_tensorfi2(r, root, c);
  if (root["faults"]) parse_faults(r, root["faults"], c);
  if (root["trials"]) c.trials = r.get<std::int64_t>(root["trials"], "trials");
  if (root["target_halfwidth"]) {
    c.target_halfwidth = r.get<double>(root["target_halfwidth"], "target_halfwidth");
  }
  if (root["checkpoint"]) c.checkpoint = r.get<std::int64_t>(root["checkpoint"], "checkpoint");
  if (root["trials_per_input"]) {
    c.trials_per_input = r.get<std::int64_t>(root["trials_per_input"], "trials_per_input");
  }
  if (root["input_order"]) {
    const std::string order = r.get<std::string>(root["input_order"], "input_order");
    if (order != "random" && order != "sequential") {
      fail_at(what, root["input_order"], "input_order",
              "must be random or sequential, not '" + order + "'");
    }
    c.sequential_inputs = order == "sequential";
  }
  if (root["seed"]) c.seed = r.get<std::uint64_t>(root["seed"], "seed");
  if (root["threads"]) c.threads = r.get<int>(root["threads"], "threads");
  if (root["batch"]) {
    try {
      parse_batch(r.get<std::string>(root["batch"], "batch"), c);
    } catch (const InputError& e) {
      fail_at(what, root["batch"], "batch", e.what());
    }
  }
  if (root["golden_cache_mb"]) {
    c.golden_cache_mb = r.get<std::int64_t>(root["golden_cache_mb"], "golden_cache_mb");
    if (c.golden_cache_mb < 0) {
      fail_at(what, root["golden_cache_mb"], "golden_cache_mb",
              "must be a size in MiB >= 0 (0 keeps no golden run between groups)");
    }
  }
  if (root["strategy"]) strategy_or_throw(r, root["strategy"], c.strategy);
  if (root["activation_layout"]) {
    const YAML::Node& n = root["activation_layout"];
    try {
      c.channels_last = parse_activation_layout(r.get<std::string>(n, "activation_layout"));
    } catch (const InputError& e) {
      fail_at(what, n, "activation_layout", e.what());
    }
  }
  if (root["time_limit"]) c.time_limit_s = r.get<double>(root["time_limit"], "time_limit");
  if (root["output"]) c.output = r.path(root["output"], "output");
  if (root["shard"]) {
    try {
      parse_shard(r.get<std::string>(root["shard"], "shard"), c.shard_index, c.shard_count);
    } catch (const InputError& e) {
      fail_at(what, root["shard"], "shard", e.what());
    }
  }
  return c;
}

PreprocessSettings parse_preprocess_yaml(const std::string& yaml, const std::string& what,
                                         bool is_file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    if (!is_file) throw InputError(fmt::format("{}: malformed YAML: {}", what, e.msg));
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", what, e.mark.line + 1, e.msg));
  }
  const Reader r{what, "", is_file};
  return parse_preprocess(
      r, root, [](const std::string& k) { return k; }, "");
}

PreprocessSettings parse_preprocess_flags(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& flags) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& [key, values] : flags) {
    if (!kPreprocessKeys.contains(key)) throw InputError("unknown preprocessing key '" + key + "'");
    if (values.size() == 1) {
      root[key] = values[0];
    } else {
      YAML::Node list(YAML::NodeType::Sequence);
      for (const auto& v : values) list.push_back(v);
      root[key] = list;
    }
  }
  const Reader r{"command line", "", false};
  return parse_preprocess(
      r, root,
      [](const std::string& k) {
        std::string flag = "--" + k;
        std::replace(flag.begin(), flag.end(), '_', '-');
        return flag;
      },
      "");
}

CampaignConfig load_campaign_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  const fs::path p(path);
  return parse_campaign_config(ss.str(), path, p.parent_path().string());
}

void absolutize_paths(CampaignConfig& c) {
  auto abs = [](std::string& p) {
    if (!p.empty()) p = fs::absolute(fs::path(p)).lexically_normal().string();
  };
  abs(c.model);
  for (auto& p : c.dataset.paths) abs(p);
  abs(c.dataset.labels);
  abs(c.output);
}

void validate_campaign_config(const CampaignConfig& c) {
  const std::string what = c.source.empty() ? "campaign" : c.source;
  auto bad = [&](const std::string& key, const std::string& msg) {
    throw InputError(fmt::format("{}: {}: {}", what, key, msg));
  };
  if (c.model.empty()) bad("model", "missing (set it in the config or with --model)");
  if (!c.has_dataset) bad("dataset", "missing (set it in the config or with --dataset)");
  if (c.trials < 1) bad("trials", "must be >= 1");
  if (c.target_halfwidth < 0.0 || c.target_halfwidth >= 0.5)
    bad("target_halfwidth", "must be in [0, 0.5)");
  if (c.checkpoint < 1) bad("checkpoint", "must be >= 1");
  if (c.trials_per_input < 1) bad("trials_per_input", "must be >= 1");
  if (c.threads < 1 || c.threads > 1024) bad("threads", "must be in 1..1024");
  if (c.batch < 1 || c.batch > kMaxBatch) bad("batch", batch_range_message());
  if (c.golden_cache_mb < -1 || c.golden_cache_mb > (std::int64_t{1} << 30)) {
    bad("golden_cache_mb", "must be a size in MiB (0 keeps no golden run)");
  }
  if (c.time_limit_s < 0.0) bad("time_limit", "must be >= 0");
  if (c.target_halfwidth > 0.0 && c.shard_count > 1) {
    bad("target_halfwidth",
        "needs the whole campaign in one run; it cannot be combined with shards");
  }
  if (c.faults.faults_per_trial < 1 || c.faults.faults_per_trial > kMaxFaultsPerTrial) {
    bad("faults.per_trial", fmt::format("must be in 1..{}", kMaxFaultsPerTrial));
  }
  if (c.faults.bits_per_fault < 1) bad("faults.bits_per_fault", "must be >= 1");
}

namespace {

// A string value. yaml-cpp 0.7 writes a string holding carriage returns (or other control
// characters) as a plain scalar that reads back without them (found by fuzz/), so such strings
// are written double-quoted, where yaml-cpp escapes them.
struct Text {
  const std::string& s;
};
YAML::Emitter& operator<<(YAML::Emitter& e, Text t) {
  const bool control = std::any_of(t.s.begin(), t.s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (control) e << YAML::DoubleQuoted;
  return e << t.s;
}

void emit_list(YAML::Emitter& e, const char* key, const auto& list) {
  e << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& x : list) {
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) {
      e << Text{x};
    } else {
      e << x;
    }
  }
  e << YAML::EndSeq;
}

std::string config_yaml(const CampaignConfig& c, bool with_execution) {
  YAML::Emitter e;
  e.SetDoublePrecision(17);
  e << YAML::BeginMap;
  e << YAML::Key << "model" << YAML::Value << Text{c.model};
  e << YAML::Key << "dataset" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "format" << YAML::Value << dataset_format_name(c.dataset.format);
  emit_list(e, "paths", c.dataset.paths);
  if (!c.dataset.labels.empty())
    e << YAML::Key << "labels" << YAML::Value << Text{c.dataset.labels};
  e << YAML::Key << "data_key" << YAML::Value << Text{c.dataset.data_key};
  e << YAML::Key << "labels_key" << YAML::Value << Text{c.dataset.labels_key};
  e << YAML::Key << "layout" << YAML::Value << Text{c.dataset.array_layout};
  e << YAML::Key << "cifar_labels" << YAML::Value
    << (c.dataset.cifar_fine_labels ? "fine" : "coarse");
  e << YAML::Key << "samples" << YAML::Value << c.samples;
  e << YAML::Key << "only_correct" << YAML::Value << c.only_correct;
  e << YAML::EndMap;
  const PreprocessConfig p = c.preprocess.resolve();
  e << YAML::Key << "preprocess" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "grayscale" << YAML::Value << p.grayscale;
  e << YAML::Key << "bgr" << YAML::Value << p.bgr;
  if (!p.resize.empty()) emit_list(e, "resize", p.resize);
  if (!p.center_crop.empty()) emit_list(e, "center_crop", p.center_crop);
  e << YAML::Key << "scale" << YAML::Value << p.scale;
  if (!p.mean.empty()) emit_list(e, "mean", p.mean);
  if (!p.std.empty()) emit_list(e, "std", p.std);
  e << YAML::Key << "layout" << YAML::Value << (p.nhwc ? "nhwc" : "nchw");
  e << YAML::EndMap;
  const SamplerConfig& s = c.faults;
  e << YAML::Key << "faults" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "target" << YAML::Value << site_kind_name(s.target);
  e << YAML::Key << "model" << YAML::Value << fault_model_kind_name(s.model.kind);
  if (!s.model.bits.empty()) emit_list(e, "bits", s.model.bits);
  e << YAML::Key << "bit_range" << YAML::Value << YAML::Flow << YAML::BeginSeq << s.bit_lo
    << s.bit_hi << YAML::EndSeq;
  e << YAML::Key << "bits_per_fault" << YAML::Value << s.bits_per_fault;
  e << YAML::Key << "sites" << YAML::Value
    << (s.policy == SitePolicy::kUniformNode ? "uniform_node" : "size_weighted");
  e << YAML::Key << "per_trial" << YAML::Value << s.faults_per_trial;
  if (s.percent_per_site > 0.0) e << YAML::Key << "percent" << YAML::Value << s.percent_per_site;
  e << YAML::Key << "spread" << YAML::Value
    << (s.every_site          ? "every_site"
        : s.independent_sites ? "independent"
                              : "same_site");
  if (!s.op_types.empty()) emit_list(e, "op_types", s.op_types);
  if (!s.name_regex.empty()) e << YAML::Key << "name_regex" << YAML::Value << Text{s.name_regex};
  if (!s.names.empty()) emit_list(e, "nodes", s.names);
  if (s.layer_index >= 0) e << YAML::Key << "layer_index" << YAML::Value << s.layer_index;
  if (!s.dtypes.empty()) {
    std::vector<std::string> names;
    for (DType d : s.dtypes) names.emplace_back(dtype_name(d));
    emit_list(e, "dtypes", names);
  }
  e << YAML::Key << "value" << YAML::Value << s.model.value;
  e << YAML::Key << "range" << YAML::Value << YAML::Flow << YAML::BeginSeq << s.model.lo
    << s.model.hi << YAML::EndSeq;
  e << YAML::EndMap;
  e << YAML::Key << "trials" << YAML::Value << c.trials;
  e << YAML::Key << "target_halfwidth" << YAML::Value << c.target_halfwidth;
  e << YAML::Key << "checkpoint" << YAML::Value << c.checkpoint;
  e << YAML::Key << "trials_per_input" << YAML::Value << c.trials_per_input;
  if (c.sequential_inputs) e << YAML::Key << "input_order" << YAML::Value << "sequential";
  e << YAML::Key << "seed" << YAML::Value << c.seed;
  e << YAML::Key << "strategy" << YAML::Value << strategy_name(c.strategy);
  // Only when set, so that the identity of an NCHW campaign is what it was before the key.
  if (c.channels_last) e << YAML::Key << "activation_layout" << YAML::Value << "nhwc";
  e << YAML::Key << "time_limit" << YAML::Value << c.time_limit_s;
  if (with_execution) {
    e << YAML::Key << "threads" << YAML::Value << c.threads;
    if (c.batch_auto) {
      e << YAML::Key << "batch" << YAML::Value << "auto";
    } else if (c.batch > 1) {
      e << YAML::Key << "batch" << YAML::Value << c.batch;
    }
    if (c.golden_cache_mb >= 0) {
      e << YAML::Key << "golden_cache_mb" << YAML::Value << c.golden_cache_mb;
    }
    e << YAML::Key << "output" << YAML::Value << Text{c.output};
    e << YAML::Key << "shard" << YAML::Value << fmt::format("{}/{}", c.shard_index, c.shard_count);
  }
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace

std::string campaign_config_yaml(const CampaignConfig& c) { return config_yaml(c, true); }

std::string campaign_config_hash(const CampaignConfig& c) {
  return sha256_hex(config_yaml(c, false));
}

void parse_shard(const std::string& s, int& index, int& count) {
  const auto slash = s.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument(s);
    std::size_t a = 0, b = 0;
    const int k = std::stoi(s.substr(0, slash), &a);
    const int n = std::stoi(s.substr(slash + 1), &b);
    if (a != slash || b != s.size() - slash - 1 || n < 1 || k < 0 || k >= n) {
      throw std::invalid_argument(s);
    }
    index = k;
    count = n;
  } catch (const std::exception&) {
    throw InputError("shard '" + s + "' is not k/N with 0 <= k < N");
  }
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace dnnfi
