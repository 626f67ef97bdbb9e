#include "fi/sampler.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <regex>
#include <set>

#include "core/error.h"
#include "fi/fault_model.h"

namespace dnnfi {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do {
    x = gen();
  } while (x >= limit);
  return x % n;
}

std::uint64_t trial_stream_seed(std::uint64_t seed, std::uint64_t trial, std::uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ trial) ^ stream);
}

FaultSampler::FaultSampler(const Session& session, SamplerConfig config)
    : config_(std::move(config)) {
  const Graph& g = session.graph();
  std::regex re;
  const bool use_re = !config_.name_regex.empty();
  if (use_re) {
    try {
      re = std::regex(config_.name_regex);
    } catch (const std::regex_error&) {
      throw InputError("invalid name pattern '" + config_.name_regex + "'");
    }
  }
  for (const std::string& name : config_.names) {
    if (g.find_node(name) < 0 && g.find_value(name) < 0) {
      throw InputError("no node or value named '" + name + "' in " + g.source);
    }
  }
  auto keep_name = [&](const std::string& a, const std::string& b) {
    if (!config_.names.empty() &&
        std::find(config_.names.begin(), config_.names.end(), a) == config_.names.end() &&
        std::find(config_.names.begin(), config_.names.end(), b) == config_.names.end()) {
      return false;
    }
    if (use_re && !std::regex_search(a, re) && !std::regex_search(b, re)) return false;
    return true;
  };
  auto keep_dtype = [&](DType dt) {
    return config_.dtypes.empty() ||
           std::find(config_.dtypes.begin(), config_.dtypes.end(), dt) != config_.dtypes.end();
  };
  if (config_.target == SiteKind::kNodeOutput) {
    for (int n : session.run_order()) {
      const Node& node = g.nodes[static_cast<std::size_t>(n)];
      if (!node.fault_site) continue;
      if (!config_.op_types.empty() && std::find(config_.op_types.begin(), config_.op_types.end(),
                                                 node.op_type) == config_.op_types.end()) {
        continue;
      }
      for (std::size_t o = 0; o < node.outputs.size(); ++o) {
        const int v = node.outputs[o];
        if (v == kNoValue) continue;
        if (!keep_name(node.name, g.values[static_cast<std::size_t>(v)].name)) continue;
        const TensorInfo& info = session.info(v);
        if (info.numel() == 0 || !keep_dtype(info.dtype)) continue;
        SampleCandidate c;
        c.site = FaultSite{SiteKind::kNodeOutput, n, static_cast<int>(o), v, 0};
        c.numel = info.numel();
        c.dtype = info.dtype;
        candidates_.push_back(c);
        break;  // one site per node: its first non-empty output (the layer output)
      }
    }
  } else {
    std::vector<int> values;
    if (config_.target == SiteKind::kWeight) {
      for (std::size_t v = 0; v < g.values.size(); ++v) {
        if (g.values[v].is_initializer) values.push_back(static_cast<int>(v));
      }
    } else {
      values = g.inputs;
    }
    for (int v : values) {
      const Value& val = g.values[static_cast<std::size_t>(v)];
      if (!keep_name(val.name, val.name)) continue;
      if (!config_.op_types.empty()) {
        bool used = false;
        for (int c : val.consumers) {
          used |= std::find(config_.op_types.begin(), config_.op_types.end(),
                            g.nodes[static_cast<std::size_t>(c)].op_type) != config_.op_types.end();
        }
        if (!used) continue;
      }
      const TensorInfo& info = session.info(v);
      if (info.numel() == 0 || !keep_dtype(info.dtype)) continue;
      SampleCandidate c;
      c.site = FaultSite{config_.target, -1, 0, v, 0};
      c.numel = info.numel();
      c.dtype = info.dtype;
      candidates_.push_back(c);
    }
  }
  if (config_.layer_index >= 0) {
    const auto k = static_cast<std::size_t>(config_.layer_index);
    if (config_.target == SiteKind::kNodeOutput && !g.layer_names.empty()) {
      if (k >= g.layer_names.size() || g.layer_names[k].empty()) {
        throw InputError("layer " + std::to_string(k) + " is not a layer of " + g.source + " (" +
                         std::to_string(g.layer_names.size()) + " layers)");
      }
      const int node = g.find_node(g.layer_names[k]);
      std::erase_if(candidates_, [&](const SampleCandidate& c) { return c.site.node != node; });
      if (candidates_.empty()) {
        throw InputError("layer " + std::to_string(k) + " ('" + g.layer_names[k] +
                         "') is excluded by the other site filters");
      }
    } else {
      if (k >= candidates_.size()) {
        throw InputError("layer " + std::to_string(k) + " is out of range: " + g.source + " has " +
                         std::to_string(candidates_.size()) + " candidate " +
                         site_kind_name(config_.target) + " tensors");
      }
      candidates_ = {candidates_[k]};
    }
  }
  if (candidates_.empty()) {
    throw InputError("no fault site matches the " + site_kind_name(config_.target) +
                     " filters (op types, names, pattern) in " + g.source);
  }
  std::int64_t total = 0;
  for (const auto& c : candidates_) {
    total += c.numel;
    cumulative_.push_back(total);
  }
  if (config_.faults_per_trial < 1) throw InputError("faults per trial must be >= 1");
  if (config_.percent_per_site < 0.0 || config_.percent_per_site > 100.0) {
    throw InputError("percent of values per site must be in [0, 100]");
  }
  if (config_.percent_per_site > 0.0 && config_.independent_sites && !config_.every_site) {
    throw InputError("a percent of values per site needs faults in one site or in every site");
  }
  if (config_.bits_per_fault < 1) throw InputError("bits per fault must be >= 1");
  for (const auto& c : candidates_) {
    const int width = dtype_bits(c.dtype);
    const int hi = config_.bit_hi < 0 ? width - 1 : config_.bit_hi;
    if (config_.model.bits.empty() && (config_.model.kind == FaultModelKind::kBitFlip ||
                                       config_.model.kind == FaultModelKind::kStuckAt0 ||
                                       config_.model.kind == FaultModelKind::kStuckAt1)) {
      if (config_.bit_lo < 0 || config_.bit_lo > hi || hi >= width) {
        throw InputError("bit range " + std::to_string(config_.bit_lo) + ".." + std::to_string(hi) +
                         " does not fit " + std::string(dtype_name(c.dtype)));
      }
      if (hi - config_.bit_lo + 1 < config_.bits_per_fault) {
        throw InputError("bit range too small for " + std::to_string(config_.bits_per_fault) +
                         " distinct bits");
      }
    } else if (!config_.model.bits.empty() || config_.model.kind == FaultModelKind::kCallback ||
               config_.model.kind == FaultModelKind::kTensorCallback) {
      validate_fault_model(config_.model, c.dtype);
    }
  }
}

std::vector<Fault> FaultSampler::sample(std::uint64_t seed, std::uint64_t trial) const {
  std::mt19937_64 gen(trial_stream_seed(seed, trial, 1));
  std::vector<Fault> faults;
  auto add_fault = [&](const SampleCandidate& c, std::int64_t index) {
    Fault f;
    f.site = c.site;
    f.site.flat_index = index;
    f.model = config_.model;
    const bool needs_bits = f.model.kind == FaultModelKind::kBitFlip ||
                            f.model.kind == FaultModelKind::kStuckAt0 ||
                            f.model.kind == FaultModelKind::kStuckAt1;
    if (needs_bits && f.model.bits.empty()) {
      const int width = dtype_bits(c.dtype);
      const int hi = config_.bit_hi < 0 ? width - 1 : config_.bit_hi;
      while (static_cast<int>(f.model.bits.size()) < config_.bits_per_fault) {
        const int b =
            config_.bit_lo + static_cast<int>(uniform_below(
                                 gen, static_cast<std::uint64_t>(hi - config_.bit_lo + 1)));
        if (std::find(f.model.bits.begin(), f.model.bits.end(), b) == f.model.bits.end()) {
          f.model.bits.push_back(b);
        }
      }
    }
    if (f.model.kind == FaultModelKind::kRandomValue) f.model.seed = gen();
    faults.push_back(std::move(f));
  };
  // Distinct elements of one tensor (TensorFI2 draws them with random.sample): Floyd's algorithm,
  // which needs `count` draws whatever the tensor size; ascending order.
  auto distinct_elements = [&](const SampleCandidate& c) {
    std::int64_t count = config_.faults_per_trial;
    if (config_.percent_per_site > 0.0) {
      count = static_cast<std::int64_t>(
          std::floor(config_.percent_per_site / 100.0 * static_cast<double>(c.numel)));
    }
    count = std::min(count, c.numel);
    std::set<std::int64_t> chosen;
    for (std::int64_t j = c.numel - count; j < c.numel; ++j) {
      const auto t =
          static_cast<std::int64_t>(uniform_below(gen, static_cast<std::uint64_t>(j + 1)));
      if (!chosen.insert(t).second) chosen.insert(j);
    }
    for (std::int64_t index : chosen) add_fault(c, index);
  };
  if (config_.every_site) {
    for (const SampleCandidate& c : candidates_) distinct_elements(c);
    return faults;
  }
  if (!config_.independent_sites) {
    distinct_elements(candidates_[uniform_below(gen, candidates_.size())]);
    return faults;
  }
  for (int k = 0; k < config_.faults_per_trial; ++k) {
    const SampleCandidate* c = nullptr;
    std::int64_t index = 0;
    if (config_.policy == SitePolicy::kUniformNode) {
      c = &candidates_[uniform_below(gen, candidates_.size())];
      index = static_cast<std::int64_t>(uniform_below(gen, static_cast<std::uint64_t>(c->numel)));
    } else {
      const auto pick = static_cast<std::int64_t>(
          uniform_below(gen, static_cast<std::uint64_t>(cumulative_.back())));
      const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), pick);
      const std::size_t ci = static_cast<std::size_t>(it - cumulative_.begin());
      c = &candidates_[ci];
      index = pick - (ci == 0 ? 0 : cumulative_[ci - 1]);
    }
    add_fault(*c, index);
  }
  return faults;
}

}  // namespace dnnfi
