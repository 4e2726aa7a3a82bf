// The storm: at least 100k short tasks (200 under sanitizers) while another thread
// SIGKILLs a random child every 50 ms and SIGSTOPs one child once. With a task timeout,
// the stopped child's task is recovered too. Nothing may be lost or duplicated, and every
// task must end ok. The run is topped up with more tasks until the storm has done what it
// must (kills, the stop, the stopped child's recovery), so its length never depends on
// how fast this machine or this build runs tasks or starts workers.
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <random>
#include <thread>
#include <vector>

#include "ipc/sanitizers.hpp"
#include "supervisor/engine/supervisor.hpp"
#include "tests/test_support.hpp"

using namespace procpool::supervisor;

namespace {

constexpr int kKillsWanted = 8;

// Loop thread only: counts results, and (as the pool's Remote) submits more tasks while
// the storm is not done, so the pool never runs dry before the storm has hit it enough.
struct StormRun final : PoolEvents, Remote {
  Supervisor& pool;
  const std::atomic<bool>& storm_done;
  const std::chrono::steady_clock::time_point feed_until;
  const int never_ready;
  std::vector<uint8_t> seen;
  uint64_t duplicates = 0, not_ok = 0;
  std::atomic<uint64_t> results{0};  // read by the storm thread

  StormRun(Supervisor& p, const std::atomic<bool>& done, std::size_t first_batch)
      : pool(p), storm_done(done),
        feed_until(std::chrono::steady_clock::now() + std::chrono::seconds(150)),
        never_ready(eventfd(0, EFD_CLOEXEC)) {
    submit(first_batch);
  }
  ~StormRun() override { close(never_ready); }
  StormRun(const StormRun&) = delete;
  StormRun& operator=(const StormRun&) = delete;

  void submit(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) pool.submit(0, "spin:20");
    seen.resize(seen.size() + n, 0);  // ids are 0, 1, 2, ... in submission order
  }
  bool feeding() const { return !storm_done.load() && std::chrono::steady_clock::now() < feed_until; }

  void on_result(const Completion& c) override {
    if (seen.at(c.id)++ != 0) ++duplicates;
    if (c.status != procpool::ipc::Status::ok) ++not_ok;
    results.store(results.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  int wake_fd() const override { return never_ready; }
  bool take(Supervisor& p) override {
    if (p.unfinished() >= 1000 || !feeding()) return false;
    submit(2000);
    return true;
  }
  bool has_posts() const override { return false; }
  bool prepare_sleep() override { return false; }
  void woke() override {}
  // Past the feeding deadline the run drains and the assertions say what was missing.
  bool finished(const Supervisor& p) const override { return !feeding() && p.unfinished() == 0; }
};

}  // namespace

TEST(Storm, KillsEvery50msAndAStoppedChildLoseNothing) {
#if defined(PROCPOOL_ASAN) || defined(PROCPOOL_TSAN)
  // A sanitized worker takes 150-350 ms to start here, so most of a sanitized run is
  // respawning: a smaller first batch, topped up until the storm is done.
  constexpr std::size_t kFirstBatch = 200;
#else
  constexpr std::size_t kFirstBatch = 100'000;
#endif
  PoolOptions options;
  options.workers = 2;
  options.child_exe = PROCPOOL_EXE;
  options.plugins = {TEST_PLUGIN};
  options.max_attempts = 10;      // a task may be hit by more than one of the kills
  options.max_restarts = 100000;  // the storm is the point: no crash-loop stop
  options.task_timeout_ns = 500'000'000;
  options.retry_timeouts = true;
  options.start_timeout_ns = 2'000'000'000;  // a replacement stopped while starting is replaced too
  Supervisor pool(options, {{"misbehave", ""}});

  std::atomic<bool> storm_done{false}, run_over{false};
  std::atomic<int> kills{0}, stops{0};
  const pid_t self = getpid();
  StormRun run(pool, storm_done, kFirstBatch);
  std::thread storm([&] {
    std::mt19937 rng(42);
    pid_t frozen = 0;
    while (!run_over.load()) {  // ends early only if the feeding deadline passed
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::vector<pid_t> children = procpool::testing::children_of(self);
      const bool frozen_gone = frozen != 0 && std::find(children.begin(), children.end(), frozen) == children.end();
      // The whole first batch runs under fire; after it, the storm ends as soon as it has
      // killed enough and the supervisor has rescued the stopped child's task.
      if (run.results.load(std::memory_order_relaxed) >= kFirstBatch && kills.load() >= kKillsWanted && frozen_gone) {
        storm_done = true;  // the pool drains in peace: feeding and killing end together
        break;
      }
      std::erase(children, frozen);  // only the supervisor's timeout may rescue that one
      if (children.empty()) continue;
      const pid_t victim = children[rng() % children.size()];
      if (stops.load() == 0 && kills.load() == 3) {
        kill(victim, SIGSTOP);
        frozen = victim;
        ++stops;
      } else {
        kill(victim, SIGKILL);
        ++kills;
      }
    }
  });
  const RunOutcome out = pool.serve(run, run);
  run_over = true;
  storm.join();
  pool.shutdown();

  EXPECT_EQ(out.error, "");
  EXPECT_EQ(run.duplicates, 0u);
  EXPECT_EQ(run.not_ok, 0u);
  std::size_t results = 0;
  for (uint8_t s : run.seen) results += s;
  EXPECT_EQ(results, run.seen.size()) << "every submitted task has its one result";
  EXPECT_GE(run.seen.size(), kFirstBatch);
  EXPECT_TRUE(storm_done.load()) << "the storm did not finish within the feeding time: " << kills.load()
                                 << " kills, " << stops.load() << " stops";
  EXPECT_GE(kills.load(), kKillsWanted);
  EXPECT_EQ(stops.load(), 1);
  // Each kill is one death, and so is the stopped child (killed at its task's timeout):
  // each replaced once, nothing else replaced.
  EXPECT_EQ(pool.restarts(), static_cast<uint64_t>(kills.load() + stops.load()));
  std::printf("storm: %zu tasks, %d kills, 1 stop, %llu restarts\n", run.seen.size(), kills.load(),
              static_cast<unsigned long long>(pool.restarts()));
}
