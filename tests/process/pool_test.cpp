// The supervisor with real child processes (the procpool executable in child mode):
// exactly one result per task, errors that stay with their task, a child killed with a
// real SIGKILL while it runs a task, a child that cannot start.
#include "supervisor/engine/supervisor.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <gtest/gtest.h>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include "ipc/clock.hpp"

using namespace procpool::supervisor;
using procpool::ipc::Status;

namespace {

struct Recorded {
  Status status;
  std::string output;
  uint32_t attempts;
  int worker;
};

class Recorder : public PoolEvents {
 public:
  std::map<uint64_t, Recorded> results;
  uint64_t duplicates = 0;
  std::function<void()> tick;
  void on_result(const Completion& c) override {
    if (results.count(c.id)) ++duplicates;
    results[c.id] = {c.status, std::string(c.output), c.attempts, c.worker};
  }
  void on_tick() override {
    if (tick) tick();
  }
};

PoolOptions options(unsigned workers) {
  PoolOptions o;
  o.workers = workers;
  o.child_exe = PROCPOOL_EXE;
  return o;
}

}  // namespace

TEST(Pool, EveryTaskGetsExactlyOneResult) {
  Supervisor pool(options(2), {{"noop", ""}});
  const uint64_t n = 50'000;
  for (uint64_t i = 0; i < n; ++i) pool.submit(0, std::to_string(i));
  Recorder rec;
  const RunOutcome out = pool.run(rec);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.signal, 0);
  EXPECT_EQ(rec.duplicates, 0u);
  ASSERT_EQ(rec.results.size(), n);
  uint64_t per_worker[2] = {0, 0};
  for (const auto& [id, r] : rec.results) {
    EXPECT_EQ(r.status, Status::ok);
    ASSERT_TRUE(r.worker == 0 || r.worker == 1);
    ++per_worker[r.worker];
  }
  EXPECT_EQ(per_worker[0] + per_worker[1], n);
  EXPECT_EQ(pool.restarts(), 0u);
}

TEST(Pool, AnErrorStaysWithItsTask) {
  Supervisor pool(options(2), {{"sleep", ""}});
  pool.submit(0, "1");
  pool.submit(0, "not-a-number");
  pool.submit(0, "2");
  Recorder rec;
  EXPECT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(rec.results.size(), 3u);
  EXPECT_EQ(rec.results[0].status, Status::ok);
  EXPECT_EQ(rec.results[1].status, Status::error);
  EXPECT_NE(rec.results[1].output.find("whole number of milliseconds"), std::string::npos) << rec.results[1].output;
  EXPECT_EQ(rec.results[2].status, Status::ok);
}

TEST(Pool, AKilledChildIsReplacedAndItsTaskRunsAgain) {
  Supervisor pool(options(2), {{"sleep", ""}});
  for (int i = 0; i < 6; ++i) pool.submit(0, "300");
  Recorder rec;
  bool killed = false;
  // Once the first results are in, both workers are inside their next 300 ms task.
  rec.tick = [&] {
    if (killed || rec.results.empty()) return;
    const pid_t victim = pool.worker_stats()[0].pid;
    ASSERT_GT(victim, 0);
    kill(victim, SIGKILL);
    killed = true;
  };
  EXPECT_EQ(pool.run(rec).error, "");
  ASSERT_TRUE(killed);
  ASSERT_EQ(rec.results.size(), 6u);
  int retried = 0;
  for (const auto& [id, r] : rec.results) {
    EXPECT_EQ(r.status, Status::ok) << "task " << id << ": " << r.output;
    if (r.attempts == 2) ++retried;
  }
  EXPECT_EQ(retried, 1);
  EXPECT_EQ(pool.restarts(), 1u);
  EXPECT_EQ(pool.worker_stats()[0].restarts, 1u);
  ASSERT_EQ(pool.respawn_latencies_ns().size(), 1u);
}

TEST(Pool, ATaskThatKillsItsChildTooOftenIsReportedCrashed) {
  PoolOptions o = options(1);
  o.max_attempts = 1;
  const std::string marker = "/tmp/procpool-pool-test-started-" + std::to_string(getpid());
  std::remove(marker.c_str());
  // The first task leaves a marker when it starts: the kill then surely hits it.
  Supervisor pool(o, {{"exec", "command=[\"sh\",\"-c\",\"touch $0; [ $0 = /dev/null ] || sleep 5\"]\n"}});
  pool.submit(0, marker);
  pool.submit(0, "/dev/null");
  Recorder rec;
  bool killed = false;
  rec.tick = [&] {
    if (killed || access(marker.c_str(), F_OK) != 0) return;
    kill(pool.worker_stats()[0].pid, SIGSEGV);
    killed = true;
  };
  EXPECT_EQ(pool.run(rec).error, "");
  std::remove(marker.c_str());
  ASSERT_EQ(rec.results.size(), 2u);
  EXPECT_EQ(rec.results[0].status, Status::crashed);
  EXPECT_EQ(rec.results[0].output, "killed by SIGSEGV on 1 attempt");
  EXPECT_EQ(rec.results[1].status, Status::ok) << rec.results[1].output;
  EXPECT_EQ(rec.results[1].attempts, 1u);  // only queued on the dead child: not charged
}

TEST(Pool, AChildThatCannotStartIsAClearErrorNotAHang) {
  Supervisor pool(options(2), {{"no-such-kind", ""}});
  pool.submit(0, "x");
  pool.submit(0, "y");
  Recorder rec;
  const RunOutcome out = pool.run(rec);
  EXPECT_NE(out.error.find("unknown task kind 'no-such-kind'"), std::string::npos) << out.error;
  ASSERT_EQ(rec.results.size(), 2u);
  for (const auto& [id, r] : rec.results) EXPECT_EQ(r.status, Status::cancelled);
}

TEST(Pool, BadKindOptionsAreReportedByTheChild) {
  Supervisor pool(options(1), {{"thumbnail", "size=banana\n"}});
  pool.submit(0, "x.jpg");
  Recorder rec;
  const RunOutcome out = pool.run(rec);
  EXPECT_NE(out.error.find("thumbnail option 'size' must be WIDTHxHEIGHT"), std::string::npos) << out.error;
  ASSERT_EQ(rec.results.size(), 1u);
  EXPECT_EQ(rec.results.begin()->second.status, Status::cancelled);  // never run: the pool could not start
}

TEST(Pool, AnOversizedInputIsAnErrorResult) {
  PoolOptions o = options(1);
  o.ring_capacity = 64 * 1024;
  Supervisor pool(o, {{"noop", ""}});
  pool.submit(0, std::string(100 * 1024, 'x'));
  pool.submit(0, "small");
  Recorder rec;
  EXPECT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(rec.results.size(), 2u);
  EXPECT_EQ(rec.results[0].status, Status::error);
  EXPECT_NE(rec.results[0].output.find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(rec.results[1].status, Status::ok);
}

TEST(Pool, AChildIdleLongerThanTheTimeoutIsNotMistakenForAStalledOne) {
  PoolOptions o = options(1);
  o.task_timeout_ns = 200'000'000;
  Supervisor pool(o, {{"sleep", ""}});
  Recorder rec;
  pool.submit(0, "10");
  pool.run(rec);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // idle for 2.5 timeouts
  pool.submit(0, "100");
  pool.submit(0, "100");
  EXPECT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(rec.results.size(), 3u);
  for (const auto& [id, r] : rec.results) EXPECT_EQ(r.status, Status::ok) << id << ": " << r.output;
  EXPECT_EQ(pool.restarts(), 0u);
}

// A worker whose records cannot be trusted is treated as one that crashed: killed, its
// task retried on a fresh worker up to max_attempts, then reported with the cause; the
// pool goes on.
TEST(Pool, AWorkerThatBreaksTheProtocolIsKilledAsIfItCrashed) {
  const std::map<std::string, std::string> causes = {
      {"malformed-result", "killed for a protocol violation (malformed result record)"},
      {"unknown-record", "killed for a protocol violation (unknown record type)"},
      {"foreign-result", "killed for a protocol violation (result for a task the worker does not hold)"},
  };
  for (const auto& [lie, cause] : causes) {
    setenv("PROCPOOL_TEST_LIE", lie.c_str(), 1);
    PoolOptions o = options(1);
    o.child_exe = LYING_CHILD;
    o.max_attempts = 2;
    Supervisor pool(o, {{"noop", ""}});
    pool.submit(0, "x");
    Recorder rec;
    const RunOutcome out = pool.run(rec);
    unsetenv("PROCPOOL_TEST_LIE");
    EXPECT_EQ(out.error, "") << lie;
    ASSERT_EQ(rec.results.size(), 1u) << lie;
    const Recorded& r = rec.results.begin()->second;
    EXPECT_EQ(r.status, Status::crashed) << lie << ": " << r.output;
    EXPECT_EQ(r.attempts, 2u) << lie;
    EXPECT_NE(r.output.find(cause), std::string::npos) << lie << ": " << r.output;
    EXPECT_EQ(pool.restarts(), 2u) << lie;
  }
}

// A worker that keeps crashing is replaced after a delay from its 2nd crash in a row:
// 10 ms, doubling, at most 2 s (so a crash loop costs little CPU), on top of the time a
// worker takes to start.
TEST(Pool, ReplacementsOfAWorkerThatKeepsCrashingBackOffFrom10msTo2s) {
  PoolOptions o = options(1);
  o.plugins = {TEST_PLUGIN};
  o.max_attempts = 1;
  o.max_restarts = 100;
  Supervisor pool(o, {{"misbehave", ""}});
  constexpr int kCrashes = 11;
  for (int i = 0; i < kCrashes; ++i) pool.submit(0, "segv");
  pool.submit(0, "ok");
  Recorder rec;
  const RunOutcome out = pool.run(rec);
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(rec.results.size(), static_cast<std::size_t>(kCrashes + 1));
  const std::vector<uint64_t>& latencies = pool.respawn_latencies_ns();  // died -> replacement ready
  ASSERT_EQ(latencies.size(), static_cast<std::size_t>(kCrashes));
  const double start_ms = static_cast<double>(latencies[0]) / 1e6;  // the 1st: no delay, a start alone
  for (int crash = 1; crash <= kCrashes; ++crash) {
    const double backoff_ms = crash == 1 ? 0 : std::min(10.0 * (1 << (crash - 2)), 2000.0);
    const double ms = static_cast<double>(latencies[crash - 1]) / 1e6;
    EXPECT_GE(ms, backoff_ms) << "crash " << crash;
    // A start takes 10-20 ms here, 150-350 ms under a sanitizer.
    EXPECT_LE(ms, backoff_ms + start_ms + 400) << "crash " << crash;
  }
}
