#include "mpi/mpi_campaign.h"

#include <fmt/core.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "campaign/config.h"
#include "core/error.h"
#include "core/log.h"
#include "mpi/chunk_runner.h"

namespace dnnfi {

using mpi_detail::ChunkRunner;
using mpi_detail::Clock;
using mpi_detail::IdleBackoff;
using mpi_detail::kHeartbeatS;
using mpi_detail::kIdleSleep;
using mpi_detail::seconds_since;

namespace {

// CPU time of the calling thread: what rank 0's commit work costs, whoever else shares the core.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

struct MpiCoordinator::RankState {
  bool ready = false;
  bool gone = false;
  bool has_inputs = false;
  int threads = 1;
  Clock::time_point last_heard;
  Clock::time_point last_sent;
  std::set<std::size_t> chunks;  // in flight on this rank (indices into the phase's chunks)
};

// One phase (the golden pass, or a round of trials): its work items (input positions, or trial
// ids in (input, id) order so that consecutive trials share a golden run), the chunks cut from
// them so far, and what to do with each chunk's result. Chunks are cut when a thread or rank
// asks (guided self-scheduling): about kChunkSeconds of work at the measured cost per item, and
// never more than a quarter of the remaining items per thread of the job, so that the phase
// ends with small chunks on every thread. Rank 0's own threads take chunks too.
struct MpiCoordinator::Phase {
  static constexpr double kChunkSeconds = 0.05;
  static constexpr std::size_t kFirstChunk = 16;  // before any cost is known
  static constexpr std::size_t kMaxChunk = 4096;

  bool golden = false;
  std::vector<std::int64_t> items;
  // Trials: where each input's run of trials ends in `items` (ascending). A chunk ends at one of
  // them, so an input's trials stay on one rank and its golden run is computed once.
  std::vector<std::size_t> group_ends;
  std::vector<std::int64_t> samples;  // golden: the dataset sample of each position
  std::span<const std::vector<std::int64_t>> streamed;  // golden: trial ids per position
  std::int64_t first_chunk = 0;                         // id of chunk 0 (ids grow across phases)
  std::size_t slots = 1;                                // threads in the whole job

  std::mutex mu;  // guards everything below (rank 0's threads take chunks too)
  std::condition_variable cv;
  std::size_t cursor = 0;                                   // items before it are in some chunk
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // chunk -> [begin, end) in items
  std::vector<bool> done;
  std::size_t done_count = 0;
  std::deque<std::size_t> requeued;  // chunks of lost ranks, handed out first
  double item_s = -1.0;              // measured seconds per item (a running mean)
  bool closing = false;

  std::function<void(wire::Result&&, bool remote)> accept;  // called on the main thread
  std::function<void()> flush;                              // after each polling round
  std::exception_ptr error;

  bool available() const { return !requeued.empty() || cursor < items.size(); }
  bool finished() const { return cursor == items.size() && done_count == ranges.size(); }

  // The next chunk to hand out (nothing when all are cut and none was requeued). Holds mu.
  std::optional<std::size_t> take_locked() {
    if (!requeued.empty()) {
      const std::size_t c = requeued.front();
      requeued.pop_front();
      return c;
    }
    const std::size_t left = items.size() - cursor;
    if (left == 0) return std::nullopt;
    std::size_t size =
        item_s > 0.0 ? static_cast<std::size_t>(kChunkSeconds / item_s) : kFirstChunk;
    size = std::clamp<std::size_t>(std::min(size, left / (4 * slots)), 1, kMaxChunk);
    size = std::min(size, left);
    if (!group_ends.empty()) {  // extend to the end of the input's trials (max_group_trials)
      size = *std::lower_bound(group_ends.begin(), group_ends.end(), cursor + size) - cursor;
    }
    ranges.emplace_back(cursor, cursor + size);
    done.push_back(false);
    cursor += size;
    return ranges.size() - 1;
  }
  std::optional<std::size_t> take() {
    std::lock_guard<std::mutex> lock(mu);
    return take_locked();
  }
  void requeue(std::size_t c) {
    {
      std::lock_guard<std::mutex> lock(mu);
      requeued.push_back(c);
    }
    cv.notify_all();
  }
  wire::Work work(std::size_t c) {
    std::lock_guard<std::mutex> lock(mu);
    wire::Work w;
    w.chunk = first_chunk + static_cast<std::int64_t>(c);
    w.golden = golden;
    const auto [b, e] = ranges[c];
    if (golden) {
      w.positions.assign(items.begin() + b, items.begin() + e);
      w.samples.assign(samples.begin() + b, samples.begin() + e);
      if (b < streamed.size()) {
        w.streamed.assign(streamed.begin() + b, streamed.begin() + std::min(e, streamed.size()));
      }
    } else {
      w.ids.assign(items.begin() + b, items.begin() + e);
    }
    return w;
  }
  // Marks chunk `c` done (false if it already was: a reissued chunk's second result) and folds
  // its cost into the estimate.
  bool complete(std::size_t c, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    if (c >= ranges.size() || done[c]) return false;
    done[c] = true;
    ++done_count;
    const double n = static_cast<double>(ranges[c].second - ranges[c].first);
    if (seconds > 0.0) item_s = item_s < 0.0 ? seconds / n : 0.8 * item_s + 0.2 * seconds / n;
    return true;
  }
  // Chunk index of a result's chunk id (npos: another phase's).
  std::size_t index_of(std::int64_t chunk) {
    std::lock_guard<std::mutex> lock(mu);
    if (chunk < first_chunk || chunk - first_chunk >= static_cast<std::int64_t>(ranges.size())) {
      return static_cast<std::size_t>(-1);
    }
    return static_cast<std::size_t>(chunk - first_chunk);
  }
};

MpiCoordinator::MpiCoordinator(MpiWorld& world, double timeout_s)
    : world_(world), timeout_s_(timeout_s), ranks_(static_cast<std::size_t>(world.size())) {
  stats_.ranks = world.size();
}

MpiCoordinator::~MpiCoordinator() {
  try {
    if (!finished_) finish(true);
  } catch (...) {  // MPI errors while stopping must not escape a destructor
  }
}

void MpiCoordinator::finish(bool failed) {
  if (finished_) return;
  finished_ = true;
  const std::string stop = wire::encode(wire::Stop{failed, ranks_died_});
  std::set<int> waiting;
  for (int r = 1; r < world_.size(); ++r) {
    if (ranks_[static_cast<std::size_t>(r)].gone) continue;
    world_.post(r, wire::kStop, stop);
    waiting.insert(r);
  }
  // Each worker answers kBye; one that does not within the timeout died after its last message
  // (a send to it could never complete and would hold up MPI_Finalize), so it is forgotten.
  const auto t0 = Clock::now();
  while (!waiting.empty() && seconds_since(t0) < (started_ ? timeout_s_ : 0.0)) {
    bool idle = true;
    while (auto m = world_.poll()) {
      idle = false;
      if (m->tag == wire::kBye) waiting.erase(m->source);
    }
    world_.progress_sends();
    if (idle) std::this_thread::sleep_for(kIdleSleep);
  }
  for (const int r : waiting) {
    if (started_) {
      log_warning(fmt::format("MPI rank {} did not answer the end of the campaign", r));
    }
    world_.forget_sends_to(r);
    world_.forget_receives_from(r);
  }
  if (ranks_died_ || !waiting.empty()) world_.skip_finalize();
}

void MpiCoordinator::start(const CampaignContext& ctx) {
  if (started_) return;
  started_ = true;
  wire::Setup setup;
  setup.config_yaml = campaign_config_yaml(ctx.config());
  setup.model_sha256 = sha256_file(ctx.config().model);
  setup.timeout_s = timeout_s_;
  const std::string bytes = wire::encode(setup);
  const auto now = Clock::now();
  for (int r = 1; r < world_.size(); ++r) {
    ranks_[static_cast<std::size_t>(r)].last_heard = now;
    ranks_[static_cast<std::size_t>(r)].last_sent = now;
    world_.post(r, wire::kSetup, bytes);
  }
}

void MpiCoordinator::give_up(int rank, Phase& phase, const std::string& why) {
  RankState& rs = ranks_[static_cast<std::size_t>(rank)];
  if (rs.gone) return;
  rs.gone = true;
  ++stats_.ranks_lost;
  for (const std::size_t c : rs.chunks) {
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(phase.mu);
      done = phase.done[c];
    }
    if (!done) {
      phase.requeue(c);
      ++stats_.chunks_reissued;
    }
  }
  log_warning(fmt::format("MPI rank {} {}; {} chunk{} in flight handed to the other ranks", rank,
                          why, rs.chunks.size(), rs.chunks.size() == 1 ? "" : "s"));
  rs.chunks.clear();
  world_.forget_sends_to(rank);
  world_.forget_receives_from(rank);
  for (int r = 1; r < world_.size(); ++r) fill(r, phase);
}

void MpiCoordinator::fill(int rank, Phase& phase) {
  RankState& rs = ranks_[static_cast<std::size_t>(rank)];
  if (!rs.ready || rs.gone) return;
  if (!phase.golden && !rs.has_inputs) {
    world_.post(rank, wire::kInputs, inputs_message_);
    rs.has_inputs = true;
  }
  // One chunk per thread plus one queued, so a rank never waits for its next chunk.
  while (rs.chunks.size() < static_cast<std::size_t>(rs.threads) + 1) {
    const auto c = phase.take();
    if (!c) break;
    world_.post(rank, wire::kWork, wire::encode(phase.work(*c)));
    rs.chunks.insert(*c);
    rs.last_sent = Clock::now();
  }
}

void MpiCoordinator::handle(MpiMessage& m, Phase& phase) {
  if (m.source <= 0 || m.source >= world_.size()) return;
  RankState& rs = ranks_[static_cast<std::size_t>(m.source)];
  rs.last_heard = Clock::now();
  switch (m.tag) {
    case wire::kReady: {
      wire::Ready ready;
      wire::decode(m.bytes, ready);
      if (rs.gone) return;
      rs.ready = true;
      rs.threads = std::max(1, ready.threads);
      fill(m.source, phase);
      return;
    }
    case wire::kSetupFailed: {
      wire::Failure f;
      wire::decode(m.bytes, f);
      give_up(m.source, phase, "cannot take part: " + f.message);
      return;
    }
    case wire::kResult: {
      const double t0 = thread_cpu_s();
      wire::Result res;
      wire::decode(m.bytes, res);
      if (!res.trials.empty()) stats_.bytes_received += static_cast<std::int64_t>(m.bytes.size());
      // A result of an earlier phase, or a second copy of a reissued chunk, is dropped.
      const std::size_t c = phase.index_of(res.chunk);
      if (c != static_cast<std::size_t>(-1) && phase.complete(c, res.seconds)) {
        phase.accept(std::move(res), true);
      }
      rs.chunks.erase(c);
      stats_.commit_s += thread_cpu_s() - t0;
      fill(m.source, phase);
      return;
    }
    case wire::kChunkFailed: {
      wire::Failure f;
      wire::decode(m.bytes, f);
      if (!phase.error) phase.error = std::make_exception_ptr(InputError(f.message));
      return;
    }
    default:  // kHeartbeat: being heard was the point
      return;
  }
}

void MpiCoordinator::run_phase(const CampaignContext& ctx, Phase& phase,
                               const CampaignRunOptions& options) {
  phase.first_chunk = next_chunk_;
  phase.slots = 0;
  for (int r = 0; r < world_.size(); ++r) {
    const RankState& rs = ranks_[static_cast<std::size_t>(r)];
    if (r == 0 || !rs.gone) {
      phase.slots += static_cast<std::size_t>(rs.ready ? rs.threads : ctx.config().threads);
    }
  }
  phase.slots = std::max<std::size_t>(phase.slots, 1);
  for (int r = 1; r < world_.size(); ++r) {
    ranks_[static_cast<std::size_t>(r)].chunks.clear();
    fill(r, phase);
  }

  // Rank 0's own threads take chunks from the same queue.
  std::mutex local_mu;  // guards local_done and local_error
  std::vector<wire::Result> local_done;
  std::exception_ptr local_error;
  std::atomic<bool> stop_local{false};
  auto local = [&] {
    try {
      ChunkRunner runner(ctx, inputs_);
      for (;;) {
        std::optional<std::size_t> c;
        {
          std::unique_lock<std::mutex> lock(phase.mu);
          phase.cv.wait(lock, [&] { return phase.closing || phase.available(); });
          if (phase.closing) return;
          c = phase.take_locked();
        }
        auto res = runner.run(phase.work(*c), stop_local);
        if (!res) return;
        std::lock_guard<std::mutex> lock(local_mu);
        local_done.push_back(std::move(*res));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(local_mu);
      if (!local_error) local_error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < ctx.config().threads; ++t) pool.emplace_back(local);

  auto last_beat = Clock::now();
  const std::string beat = wire::encode(wire::Stop{});  // an empty heartbeat body
  IdleBackoff backoff;
  try {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(phase.mu);
        if (phase.finished()) break;
      }
      bool idle = true;
      while (auto m = world_.poll()) {
        idle = false;
        handle(*m, phase);
      }
      std::vector<wire::Result> mine;
      {
        std::lock_guard<std::mutex> lock(local_mu);
        mine.swap(local_done);
        if (local_error && !phase.error) phase.error = local_error;
      }
      if (phase.error) break;
      for (auto& res : mine) {
        idle = false;
        if (phase.complete(phase.index_of(res.chunk), res.seconds)) {
          phase.accept(std::move(res), false);
        }
      }
      if (phase.flush) phase.flush();
      if (phase.error) break;
      if (options.stop != nullptr && options.stop->load()) break;
      const auto now = Clock::now();
      for (int r = 1; r < world_.size(); ++r) {
        const RankState& rs = ranks_[static_cast<std::size_t>(r)];
        if (!rs.gone && std::chrono::duration<double>(now - rs.last_heard).count() > timeout_s_) {
          ranks_died_ = true;
          give_up(r, phase, fmt::format("was silent for {:.0f} s", timeout_s_));
        }
      }
      if (std::chrono::duration<double>(now - last_beat).count() >= kHeartbeatS) {
        for (int r = 1; r < world_.size(); ++r) {
          if (!ranks_[static_cast<std::size_t>(r)].gone) world_.post(r, wire::kHeartbeat, beat);
        }
        last_beat = now;
      }
      world_.progress_sends();
      backoff(idle);
    }
  } catch (...) {
    if (!phase.error) phase.error = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(phase.mu);
    phase.closing = true;
  }
  stop_local.store(true);
  phase.cv.notify_all();
  for (auto& th : pool) th.join();
  next_chunk_ = phase.first_chunk + static_cast<std::int64_t>(phase.ranges.size());
  if (phase.flush) phase.flush();
  if (phase.error) std::rethrow_exception(phase.error);
}

std::vector<InputRecord> MpiCoordinator::golden_pass(
    const CampaignContext& ctx, const std::vector<std::int64_t>& samples,
    std::span<const std::int64_t> positions, const CampaignRunOptions& options,
    std::span<const std::vector<std::int64_t>> trials, std::vector<TrialRecord>& records) {
  start(ctx);
  std::vector<InputRecord> inputs(samples.size());
  Phase phase;
  phase.golden = true;
  std::vector<std::vector<std::int64_t>> streamed;  // per item
  for (const std::int64_t p : positions) {
    const auto i = static_cast<std::size_t>(p);
    phase.items.push_back(p);
    phase.samples.push_back(samples.at(i));
    streamed.push_back(i < trials.size() ? trials[i] : std::vector<std::int64_t>{});
  }
  phase.streamed = streamed;
  std::int64_t done = 0;
  const auto t0 = Clock::now();
  auto last_report = t0;
  phase.accept = [&](wire::Result&& r, bool remote) {
    for (InputRecord& rec : r.inputs) {
      if (rec.index < 0 || rec.index >= static_cast<std::int64_t>(inputs.size())) {
        throw Error(fmt::format("MPI: a worker returned input position {}", rec.index));
      }
      inputs[static_cast<std::size_t>(rec.index)] = rec;
      ++done;
    }
    if (remote) stats_.remote_trials += static_cast<std::int64_t>(r.trials.size());
    stats_.trials_committed += static_cast<std::int64_t>(r.trials.size());
    for (TrialRecord& t : r.trials) records.push_back(std::move(t));
  };
  phase.flush = [&] {
    if (!options.progress || seconds_since(last_report) < options.progress_interval_s) return;
    CampaignProgress p;
    p.phase = "golden";
    p.done = p.new_done = done;
    p.total = static_cast<std::int64_t>(positions.size());
    p.elapsed_s = seconds_since(t0);
    options.progress(p);
    last_report = Clock::now();
  };
  run_phase(ctx, phase, options);
  std::vector<InputRecord> made;
  made.reserve(positions.size());
  for (const std::int64_t p : positions) made.push_back(inputs[static_cast<std::size_t>(p)]);
  return made;
}

std::int64_t MpiCoordinator::run_trials(const CampaignContext& ctx, const TrialInputs& inputs,
                                        std::span<const std::int64_t> ids, ResultsDb& db,
                                        const CampaignRunOptions& options,
                                        CampaignProgress& progress, TimePoint t0) {
  start(ctx);
  if (inputs_ != &inputs) {  // the first round: every worker gets the inputs once
    inputs_ = &inputs;
    inputs_message_ = wire::encode(inputs);
    for (auto& rs : ranks_) rs.has_inputs = false;
  }
  Phase phase;
  for (const auto& group :
       group_trials_by_input(ctx, ids, inputs.eligible.size(), max_group_trials(ctx.config()))) {
    phase.items.insert(phase.items.end(), group.ids.begin(), group.ids.end());
    phase.group_ends.push_back(phase.items.size());
  }
  std::vector<TrialRecord> batch;
  std::vector<InputRecord> made;  // deferred inputs' records, written before their trials
  DeferredInputs deferred(inputs);
  std::int64_t committed = 0;
  auto last_report = Clock::now();
  phase.accept = [&](wire::Result&& r, bool remote) {
    if (remote) stats_.remote_trials += static_cast<std::int64_t>(r.trials.size());
    for (TrialRecord& t : r.trials) batch.push_back(std::move(t));
    for (InputRecord& in : r.inputs) made.push_back(in);
  };
  phase.flush = [&] {
    if (const std::vector<InputRecord> fresh = deferred.fresh(made); !fresh.empty()) {
      db.write_inputs(fresh);
    }
    made.clear();
    if (!batch.empty()) {
      const double tc = thread_cpu_s();
      db.append_trials(batch);
      const auto n = static_cast<std::int64_t>(batch.size());
      committed += n;
      stats_.trials_committed += n;
      progress.done += n;
      progress.new_done += n;
      for (const auto& t : batch) progress.sdc += t.outcome == "sdc" ? 1 : 0;
      batch.clear();
      stats_.commit_s += thread_cpu_s() - tc;
    }
    if (options.progress && seconds_since(last_report) >= options.progress_interval_s) {
      progress.elapsed_s = seconds_since(t0);
      options.progress(progress);
      last_report = Clock::now();
    }
  };
  run_phase(ctx, phase, options);
  if (options.progress) {
    progress.elapsed_s = seconds_since(t0);
    options.progress(progress);
  }
  return committed;
}

}  // namespace dnnfi
