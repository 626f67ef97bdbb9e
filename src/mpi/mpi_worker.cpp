// Every rank but 0 of an MPI campaign (mpi_campaign.h): serve_campaign.
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "campaign/config.h"
#include "core/error.h"
#include "core/log.h"
#include "mpi/chunk_runner.h"
#include "mpi/mpi_campaign.h"

namespace dnnfi {

using mpi_detail::ChunkRunner;
using mpi_detail::Clock;
using mpi_detail::IdleBackoff;
using mpi_detail::kHeartbeatS;
using mpi_detail::seconds_since;

namespace {

// A worker rank's compute threads and the queue between them and its main (MPI) thread.
class WorkerPool {
 public:
  WorkerPool(const CampaignContext& ctx, const TrialInputs& inputs, int threads) {
    for (int t = 0; t < threads; ++t) {
      pool_.emplace_back([this, &ctx, &inputs] { loop(ctx, inputs); });
    }
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    stop_.store(true);
    cv_.notify_all();
    for (auto& th : pool_) th.join();
  }

  void push(wire::Work&& w) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(w));
    }
    cv_.notify_one();
  }

  // Finished chunks: (tag, encoded message) to send to rank 0.
  std::vector<std::pair<int, std::string>> take_done() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(done_, {});
  }

 private:
  void loop(const CampaignContext& ctx, const TrialInputs& inputs) {
    ChunkRunner runner(ctx, &inputs);
    for (;;) {
      wire::Work w;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (closing_) return;
        w = std::move(queue_.front());
        queue_.pop_front();
      }
      std::pair<int, std::string> out;
      try {
        auto res = runner.run(w, stop_);
        if (!res) return;
        out = {wire::kResult, wire::encode(*res)};
      } catch (const std::exception& e) {
        out = {wire::kChunkFailed, wire::encode(wire::Failure{w.chunk, e.what()})};
      }
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(out));
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<wire::Work> queue_;
  std::vector<std::pair<int, std::string>> done_;
  bool closing_ = false;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> pool_;
};

}  // namespace

int serve_campaign(MpiWorld& world, double timeout_s, const std::atomic<bool>* stop,
                   const std::function<CampaignConfig()>& local_config) {
  auto stopped = [&] { return stop != nullptr && stop->load(); };
  // Start loading the campaign this rank's own command line describes while rank 0 does the
  // same; used if it is the campaign rank 0 then sends (the usual case), so the ranks start
  // computing together instead of one model load apart.
  std::unique_ptr<CampaignContext> preloaded;
  std::string preloaded_sha;
  std::thread preload;
  if (local_config) {
    preload = std::thread([&] {
      try {
        CampaignConfig c = local_config();
        preloaded_sha = sha256_file(c.model);
        preloaded = std::make_unique<CampaignContext>(c);
      } catch (const std::exception&) {  // rank 0's setup decides; its errors are the ones shown
        preloaded.reset();
      }
    });
  }
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join_preload{preload};

  // Rank 0 may take long to load the model and open the database: wait for its setup.
  std::optional<MpiMessage> m;
  while (!(m = world.poll(0))) {
    if (stopped()) return 130;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (m->tag == wire::kStop) {  // rank 0 failed before the campaign started
    wire::Stop s;
    wire::decode(m->bytes, s);
    return s.failed ? 2 : 0;
  }
  if (m->tag != wire::kSetup)
    throw Error(fmt::format("MPI: unexpected message {} before setup", m->tag));
  wire::Setup setup;
  wire::decode(m->bytes, setup);
  timeout_s = setup.timeout_s > 0.0 ? setup.timeout_s : timeout_s;

  // The model loads on a thread of its own while this one keeps rank 0 hearing from us.
  std::unique_ptr<CampaignContext> ctx;
  std::string setup_error;
  std::atomic<bool> loaded{false};
  std::thread loader([&] {
    try {
      if (preload.joinable()) preload.join();
      if (preloaded && preloaded_sha == setup.model_sha256 &&
          campaign_config_yaml(preloaded->config()) == setup.config_yaml) {
        ctx = std::move(preloaded);
      } else {
        CampaignConfig config = parse_campaign_config(setup.config_yaml, "campaign config", "");
        config.model_preprocess = false;  // rank 0 resolved every preprocessing key
        if (sha256_file(config.model) != setup.model_sha256) {
          throw InputError(config.model + ": not the same file as rank 0's model");
        }
        ctx = std::make_unique<CampaignContext>(config);
      }
    } catch (const std::exception& e) {
      setup_error = e.what();
    }
    loaded.store(true);
  });
  auto last_sent = Clock::now();
  bool stop_now = false;
  int status = 0;
  const std::string beat = wire::encode(wire::Stop{});
  while (!loaded.load()) {
    if (auto msg = world.poll(0); msg && msg->tag == wire::kStop) {
      wire::Stop s;
      wire::decode(msg->bytes, s);
      stop_now = true;
      status = s.failed ? 2 : 0;
      if (s.ranks_lost) world.skip_finalize();
      break;
    }
    if (seconds_since(last_sent) >= kHeartbeatS) {
      world.send(0, wire::kHeartbeat, beat);
      last_sent = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  loader.join();
  if (stop_now) {
    world.send(0, wire::kBye, beat);
    return status;
  }
  if (!setup_error.empty()) {
    world.send(0, wire::kSetupFailed, wire::encode(wire::Failure{-1, setup_error}));
    // Rank 0 carries on without this rank; wait for its stop so the job ends together.
    while (!(m = world.poll(0)) || m->tag != wire::kStop) {
      if (stopped()) return 130;
      if (!m) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    wire::Stop s;
    wire::decode(m->bytes, s);
    world.send(0, wire::kBye, beat);
    if (s.ranks_lost) world.skip_finalize();
    return 0;
  }

  TrialInputs inputs;
  const int threads = std::max(1, ctx->config().threads);
  world.send(0, wire::kReady, wire::encode(wire::Ready{threads}));
  WorkerPool pool(*ctx, inputs, threads);
  auto last_heard = Clock::now();
  IdleBackoff backoff;
  for (;;) {
    bool idle = true;
    while ((m = world.poll(0))) {
      idle = false;
      last_heard = Clock::now();
      switch (m->tag) {
        case wire::kInputs:
          // Arrives before the first trial chunk (messages from one rank keep their order) and
          // only once, so no compute thread reads `inputs` while it is written.
          wire::decode(m->bytes, inputs);
          break;
        case wire::kWork: {
          wire::Work w;
          wire::decode(m->bytes, w);
          pool.push(std::move(w));
          break;
        }
        case wire::kStop: {
          wire::Stop s;
          wire::decode(m->bytes, s);
          world.send(0, wire::kBye, beat);
          if (s.ranks_lost) world.skip_finalize();
          return s.failed ? 2 : 0;
        }
        default:
          break;
      }
    }
    for (auto& [tag, bytes] : pool.take_done()) {
      idle = false;
      world.send(0, tag, bytes);
      last_sent = Clock::now();
    }
    if (stopped()) return 130;
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_sent).count() >= kHeartbeatS) {
      world.send(0, wire::kHeartbeat, beat);
      last_sent = now;
    }
    if (std::chrono::duration<double>(now - last_heard).count() > timeout_s) {
      world.skip_finalize();
      throw Error(fmt::format("MPI rank {}: rank 0 was silent for {:.0f} s; giving up",
                              world.rank(), timeout_s));
    }
    backoff(idle);
  }
}

}  // namespace dnnfi
