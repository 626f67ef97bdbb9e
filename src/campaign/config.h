// Campaign configuration: a YAML file (dnnfi's own keys, or a TensorFI2/TensorFI+ fault config
// with Target/Mode/Type/Amount/Bit) plus command-line overrides. Every problem is an InputError
// naming the file, the key and its line. The mapping of the TensorFI2 keys is documented in
// docs/campaigns.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "campaign/dataset.h"
#include "campaign/preprocess_settings.h"
#include "fi/injector.h"
#include "fi/sampler.h"

namespace dnnfi {

struct CampaignConfig {
  std::string source;  // the config file ("" when built from flags only)
  std::string model;
  DatasetConfig dataset;
  bool has_dataset = false;
  // The preprocessing keys the config file and flags set. The campaign fills the keys they leave
  // unset from the model's sidecar file and metadata (campaign/preprocess_settings.h).
  PreprocessSettings preprocess;
  // False: use `preprocess` as it is, defaults for unset keys (a stored campaign's config, which
  // already holds every key the campaign ran with).
  bool model_preprocess = true;
  std::int64_t samples = 0;   // > 0: a seeded random subset of this many samples
  bool only_correct = false;  // trials only on inputs the model classifies correctly
  SamplerConfig faults;
  std::int64_t trials = 1000;     // number of trials (the maximum with target_halfwidth)
  double target_halfwidth = 0.0;  // > 0: stop once the SDC rate's 95% half-width is this small
  std::int64_t checkpoint = 500;  // trials between target checks (a deterministic stop point)
  std::int64_t trials_per_input =
      1;  // consecutive trials sharing one input (reuses its golden run)
  // How trial groups (trials_per_input consecutive trials) pick their input: false, a seeded
  // uniform draw from the eligible inputs (with replacement); true, group g takes eligible input
  // g mod (number of eligible inputs), so every input gets the same share.
  bool sequential_inputs = false;
  std::uint64_t seed = 1;
  int threads = 1;
  // Golden runs kept between trials (campaign/golden_cache.h), in MiB; -1: a quarter of the
  // machine's memory, at most 4 GiB. An execution key like threads: not part of the campaign's
  // identity.
  std::int64_t golden_cache_mb = -1;
  Strategy strategy = Strategy::kCone;
  // Trials on one input evaluated per pass of a batch-`batch` session (fi/batched.h): each node
  // any of them reaches is computed once for all, which reads a layer's weights once for `batch`
  // trials. 1: one trial at a time. The records are bit-identical either way (node output and
  // input faults; weight faults and models that do not keep rows apart run one at a time). An
  // execution key like threads: not part of the campaign's identity.
  int batch = 1;
  // batch: auto: batch is kAutoBatch, and each worker times batched passes against lone trials on
  // its first large group and keeps the faster (campaign/trial_worker.h).
  bool batch_auto = false;
  // activation_layout: nhwc: a channels-last fault-injection session
  // (SessionOptions::channels_last): the fault-free runs and trials skip the layout reorders around
  // each convolution. Some kernels then sum in another order, so records can differ from an NCHW
  // campaign's in the last bits of values: part of the campaign's identity. Batched passes need
  // NCHW (batch is then ignored).
  bool channels_last = false;
  double time_limit_s = 10.0;  // per trial; longer is a hang (0: none)
  std::string output = "dnnfi-campaign";
  int shard_index = 0;
  int shard_count = 1;
  bool tensorfi2 = false;  // the fault spec came from TensorFI2 keys
};

// The largest `batch`: a batched pass holds that many copies of every activation it touches.
inline constexpr int kMaxBatch = 64;
inline constexpr int kAutoBatch = 8;
// `batch` as the config and --batch give it: "auto" or 1..kMaxBatch; throws InputError.
void parse_batch(const std::string& text, CampaignConfig& c);
// `activation_layout` as the config and --activation-layout give it: nchw or nhwc (true);
// throws InputError.
bool parse_activation_layout(const std::string& text);

// The most faults one trial may inject (faults.per_trial, TensorFI2's Amount).
inline constexpr int kMaxFaultsPerTrial = 1000000;

// Parses a config file. Relative paths in it are taken relative to the file's folder.
CampaignConfig load_campaign_config(const std::string& path);
// Parses YAML text; `what` names it in errors, relative paths resolve against `base_dir`.
CampaignConfig parse_campaign_config(const std::string& yaml, const std::string& what,
                                     const std::string& base_dir);
// Parses a preprocessing mapping with the keys of a config's preprocess: section (a model's
// sidecar file, its dnnfi.preprocess metadata). `what` names the text in errors; `is_file`: it is
// a file, and errors give the line ("<what>:<line>: <key>: ..."), otherwise "<what>: <key>: ...".
PreprocessSettings parse_preprocess_yaml(const std::string& yaml, const std::string& what,
                                         bool is_file);
// Preprocessing from command-line flags: (key, values) pairs such as ("mean", {"0.5", "0.4"}) or
// ("scale", {"0.5"}), read as the same keys in a file would be; errors name the flag
// ("command line: --center-crop: ...").
PreprocessSettings parse_preprocess_flags(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& flags);
// Makes model, dataset and output paths absolute (against the working directory), so that the
// stored config means the same files from anywhere (replay, resume, merge).
void absolutize_paths(CampaignConfig& c);
// Checks cross-key constraints (model and dataset given, shard in range...); throws InputError.
void validate_campaign_config(const CampaignConfig& c);

// The resolved configuration as dnnfi YAML (absolute paths), parseable by parse_campaign_config.
std::string campaign_config_yaml(const CampaignConfig& c);
// Identity of a campaign: sha256 of its YAML without the execution keys (threads, shard, output),
// so every shard and every resume of one campaign agree.
std::string campaign_config_hash(const CampaignConfig& c);

// Parses "k/N" (0 <= k < N); throws InputError.
void parse_shard(const std::string& s, int& index, int& count);

// Hex sha256 of a file's bytes; throws InputError naming the file.
std::string sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace dnnfi
