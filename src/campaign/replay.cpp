#include "campaign/replay.h"

#include <fmt/core.h>

#include <filesystem>

#include "campaign/campaign.h"
#include "campaign/config.h"
#include "core/error.h"

namespace dnnfi {

ReplayReport replay_trial(const std::string& dir, std::int64_t trial) {
  const std::string path = results_db_path(dir);
  if (!std::filesystem::exists(path))
    throw InputError(dir + ": no campaign results (results.sqlite)");
  const ResultsDb db = ResultsDb::open(path, true);
  const CampaignInfo info = db.campaign();
  CampaignConfig config = parse_campaign_config(info.config_yaml, path + " (campaign config)", "");
  // The stored config holds every preprocessing key the campaign ran with; what the model's
  // sidecar or metadata say now must not change the replay.
  config.model_preprocess = false;
  if (sha256_file(config.model) != info.model_sha256) {
    throw InputError(config.model + ": the model file changed since the campaign ran");
  }
  ReplayReport rep;
  rep.model = config.model;
  const auto stored = db.trial(trial);
  if (!stored) {
    throw InputError(fmt::format("{}: no trial {} (the database holds {} trials)", dir, trial,
                                 db.trial_count()));
  }
  rep.stored = *stored;
  const std::vector<InputRecord> inputs = db.inputs();
  if (rep.stored.input_index < 0 ||
      rep.stored.input_index >= static_cast<std::int64_t>(inputs.size())) {
    throw InputError(fmt::format("{}: trial {} refers to input {} which is not recorded", dir,
                                 trial, rep.stored.input_index));
  }
  rep.input = inputs[static_cast<std::size_t>(rep.stored.input_index)];
  const CampaignContext ctx(config);
  std::vector<Tensor> in;
  in.push_back(ctx.input_tensor(rep.input.dataset_index));
  const GoldenRun golden = ctx.injector().golden(std::move(in));
  const std::vector<Fault> faults =
      ctx.sampler().sample(config.seed, static_cast<std::uint64_t>(trial));
  TrialOptions opt;
  opt.strategy = config.strategy;
  opt.time_limit_s = config.time_limit_s;
  opt.trace = true;
  opt.keep_outputs = true;
  TrialWorkspace ws;
  const auto t0 = std::chrono::steady_clock::now();
  TrialResult r = ctx.injector().run_trial(golden, faults, opt, ws);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.replayed = ctx.make_record(trial, rep.input, r, dt);
  rep.identical = rep.replayed.same_result(rep.stored);
  const Graph& g = ctx.session().graph();
  for (const NodeChange& c : r.trace) {
    const Node& n = g.nodes[static_cast<std::size_t>(c.node)];
    rep.trace.push_back(ReplayNode{n.name, n.op_type, c.changed, c.max_abs_error});
  }
  rep.outputs = std::move(r.outputs);
  return rep;
}

}  // namespace dnnfi
