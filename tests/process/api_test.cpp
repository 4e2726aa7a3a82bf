// The C++ API with task kinds defined in this test program itself: its children are this
// executable re-executed in child mode (procpool::init at the top of main).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <gtest/gtest.h>
#include <set>
#include <thread>

#include "ipc/sanitizers.hpp"
#include "procpool/pool.hpp"
#include "tests/test_support.hpp"

using namespace std::chrono_literals;
using procpool::Pool;
using procpool::Result;
using procpool::Status;

namespace {

struct Range {
  uint64_t begin, end;
};

std::string g_marker = "not initialised";

}  // namespace

PROCPOOL_TASK(square, [](const uint64_t& x) -> uint64_t { return x * x; });
PROCPOOL_TASK(sum_squares, [](const Range& r) {
  uint64_t total = 0;
  for (uint64_t i = r.begin; i < r.end; ++i) total += i * i;
  return total;
});
PROCPOOL_TASK(annotate, [](const nlohmann::json& j) {
  nlohmann::json out = j;
  out["seen_by"] = static_cast<int>(getpid());
  return out;
});
PROCPOOL_TASK(must_be_positive, [](const int64_t& x) -> std::string {
  if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x));
  return std::to_string(x);
});
PROCPOOL_TASK(crash_on, [](const std::string& s) -> std::string {
  if (s == "crash") raise(SIGSEGV);
  return s;
});
PROCPOOL_TASK(sleep_ms, [](const uint32_t& ms) -> uint32_t {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
});
PROCPOOL_TASK(set_marker, [](const std::string& s) -> std::string {
  g_marker = s;
  return s;
});
PROCPOOL_TASK(get_marker, [](const std::string&) -> std::string { return g_marker; });
PROCPOOL_TASK(failing_init, [](const std::string&) -> std::string { throw std::runtime_error("cannot set up"); });

namespace {

procpool::Options one_worker() {
  procpool::Options o;
  o.workers = 1;
  return o;
}

procpool::Options two_workers() {
  procpool::Options o;
  o.workers = 2;
  return o;
}

}  // namespace

TEST(Api, SubmitReturnsAFutureOfATypedResult) {
  Pool pool(two_workers());
  EXPECT_EQ(pool.workers(), 2u);
  auto f = pool.submit("square", uint64_t{12});
  const Result r = f.get();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value<uint64_t>(), 144u);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_TRUE(r.worker == 0 || r.worker == 1);
  EXPECT_GT(r.pid, 0);
  EXPECT_NE(r.pid, getpid());
  EXPECT_EQ(pool.apply("sum_squares", Range{0, 1000}).value<uint64_t>(), 332833500u);
}

TEST(Api, MapKeepsInputOrderWithAnyChunkSize) {
  Pool pool(two_workers());
  std::vector<uint64_t> inputs;
  for (uint64_t i = 0; i < 1000; ++i) inputs.push_back(i);
  for (std::size_t chunk : {1u, 7u, 100u, 5000u}) {
    const std::vector<Result> results = pool.map("square", inputs, chunk);
    ASSERT_EQ(results.size(), inputs.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i].ok()) << "chunk " << chunk << " #" << i << ": " << results[i].error;
      ASSERT_EQ(results[i].value<uint64_t>(), i * i) << "chunk " << chunk;
      ASSERT_EQ(results[i].index, i);
    }
  }
  EXPECT_TRUE(pool.map("square", std::vector<uint64_t>{}).empty());
}

TEST(Api, MapUnorderedYieldsEveryResultOnceAsTheyComplete) {
  Pool pool(two_workers());
  // The slow first input cannot finish first: results come in completion order. (Which
  // fast one ends last depends on how they were queued behind it.)
  const std::vector<uint32_t> inputs = {300, 1, 2, 3, 4, 5};
  std::vector<std::size_t> order;
  for (const Result& r : pool.map_unordered("sleep_ms", inputs)) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value<uint32_t>(), inputs[r.index]);
    order.push_back(r.index);
  }
  ASSERT_EQ(order.size(), inputs.size());
  EXPECT_EQ(std::set<std::size_t>(order.begin(), order.end()).size(), inputs.size());
  EXPECT_NE(order.front(), 0u);
  std::size_t n = 0;
  for (const Result& r : pool.map_unordered("square", std::vector<uint64_t>(250, 3), 16)) n += r.value<uint64_t>() == 9;
  EXPECT_EQ(n, 250u);
}

TEST(Api, FuturesFromManyThreads) {
  Pool pool(two_workers());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<procpool::TaskFuture> futures;
      for (uint64_t i = 0; i < 500; ++i) futures.push_back(pool.submit("square", i + 1000 * t));
      for (uint64_t i = 0; i < 500; ++i)
        if (futures[i].get().value<uint64_t>() == (i + 1000 * t) * (i + 1000 * t)) ++good;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 2000);
}

// A waiting thread collects results itself while the loop sleeps (the pool lent to it,
// supervisor/engine/lent.cpp). Many threads waiting at once, each after idle gaps (so the
// loop is asleep and the waiters take the pool in turns), on tasks short and long: every
// result reaches its own future, none is lost or given twice.
TEST(Api, WaitersThatCollectResultsThemselvesLoseNone) {
  Pool pool(two_workers());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < 60; ++i) {
        if (i % 10 == 0) std::this_thread::sleep_for(3ms);  // the loop goes to sleep
        const uint32_t ms = (i + t) % 7 == 0 ? 2 : 0;
        procpool::TaskFuture f = pool.submit("sleep_ms", ms);
        if (i % 3 == 0 ? f.wait_for(5s) && f.get().value<uint32_t>() == ms : f.get().value<uint32_t>() == ms) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 360);
}

// A thread waiting on a long task holds the pool while the loop sleeps (each wait_for
// takes it again): what another thread posts meanwhile must not wait for the waiter's
// timeout or the loop's next tick (the waiter lets the loop have it at once).
TEST(Api, AWaiterHoldingThePoolLetsOtherThreadsWorkAtOnce) {
  Pool pool(two_workers());
  procpool::TaskFuture long_task = pool.submit("sleep_ms", uint32_t{1500});
  std::thread waiter([&] {
    while (!long_task.wait_for(200ms)) {
    }
  });
  std::this_thread::sleep_for(20ms);  // the waiter sleeps in the pool
  for (int i = 0; i < 30; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = pool.submit("square", uint64_t{7}).get();
    EXPECT_EQ(r.value<uint64_t>(), 49u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 25ms) << "round " << i;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(long_task.ready());
  waiter.join();
  EXPECT_EQ(long_task.get().value<uint32_t>(), 1500u);
  // A wait_for that times out while it holds the pool ends on time.
  procpool::TaskFuture slow = pool.submit("sleep_ms", uint32_t{400});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(slow.wait_for(50ms));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 150ms);
  EXPECT_EQ(slow.get().value<uint32_t>(), 400u);
}

// Batches of submit()s (procpool/batches.hpp): a flood of short tasks goes to the workers
// many to a record. Each still gets its own result; the tasks of one batch share its
// timings, which is how a test sees that batches were made.
std::size_t distinct_runs(const std::vector<procpool::TaskFuture>& futures) {
  std::set<std::pair<int64_t, int64_t>> runs;
  for (const auto& f : futures) runs.insert({f.get().run.count(), f.get().wait.count()});
  return runs.size();
}

// The kind's recent run time known (batches are made of tasks known to be short: under
// ~20 us, procpool/batches.hpp): its first task in a fresh worker runs longest. True if
// its tasks ran well under that, so that a flood of them must go in batches (a sanitizer
// build may run them slower).
bool warm_up(Pool& pool, const std::string& kind, const std::string& input) {
  std::vector<int64_t> runs;
  for (const Result& r : pool.map(kind, std::vector<std::string>(200, input), 1)) {
    EXPECT_TRUE(r.ok()) << r.error;
    runs.push_back(r.run.count());
  }
  // The engine decides on a moving average of the latest runs, so the latest decide here
  // too: all of the last 32 under 10 us (half the engine's bound). Under ThreadSanitizer
  // runs take up to 35 us and the submitting thread is slowed as much: what batches form
  // there says nothing, so that property is left to the other builds.
#if defined(PROCPOOL_TSAN)
  std::printf("note: under ThreadSanitizer the batches that form are not asserted\n");
  return false;
#else
  const bool short_tasks = std::all_of(runs.end() - 32, runs.end(), [](int64_t ns) { return ns < 10'000; });
  if (!short_tasks)
    std::printf("note: %s's last 32 runs were not all under 10 us: not short enough here to be batched\n",
                kind.c_str());
  return short_tasks;
#endif
}

// Every worker busy with a task of ms milliseconds: what is submitted next floods in
// faster than it is taken, however fast this process submits (under sanitizers too).
std::vector<procpool::TaskFuture> occupy_workers(Pool& pool, uint32_t ms) {
  std::vector<procpool::TaskFuture> blockers;
  for (unsigned i = 0; i < pool.workers(); ++i) blockers.push_back(pool.submit("sleep_ms", ms));
  EXPECT_TRUE(procpool::testing::wait_until_running(getpid(), static_cast<int>(pool.workers())));
  return blockers;
}

TEST(Api, AFloodOfShortSubmitsGoesInBatchesEachWithItsOwnResult) {
  for (const bool batch : {true, false}) {
    procpool::Options options = two_workers();
    options.batch_submits = batch;
    Pool pool(options);
    const bool short_tasks = warm_up(pool, "square", procpool::Codec<uint64_t>::encode(3));
    auto blockers = occupy_workers(pool, 5000);
    std::vector<procpool::TaskFuture> futures;
    for (uint64_t i = 0; i < 20000; ++i) futures.push_back(pool.submit("square", i));
    for (auto& b : blockers) b.kill();  // the flood is in: the workers may start on it
    for (uint64_t i = 0; i < futures.size(); ++i) {
      const Result r = futures[i].get();
      ASSERT_TRUE(r.ok()) << i << ": " << r.error;
      ASSERT_EQ(r.value<uint64_t>(), i * i) << i;
      ASSERT_EQ(r.index, 0u);
    }
    if (batch && short_tasks) {
      EXPECT_LT(distinct_runs(futures), futures.size() / 4) << "batched: tasks share their batch's timings";
    } else if (!batch) {
      EXPECT_GT(distinct_runs(futures), futures.size() / 2) << "batch_submits = false: a record each";
    }
  }
}

// A crash in a batch is charged to the task that crashed only: the others run again alone
// and succeed; the crashing one ends crashed after its own attempts.
TEST(Api, ACrashInABatchFailsOnlyTheTaskThatCrashed) {
  Pool pool(two_workers());
  const bool short_tasks = warm_up(pool, "crash_on", procpool::Codec<std::string>::encode("warm"));
  auto blockers = occupy_workers(pool, 5000);
  std::vector<procpool::TaskFuture> futures;
  for (int i = 0; i < 20000; ++i) futures.push_back(pool.submit("crash_on", std::string(i == 10000 ? "crash" : "in-" + std::to_string(i))));
  for (auto& b : blockers) b.kill();
  for (int i = 0; i < 20000; ++i) {
    const Result r = futures[i].get();
    if (i == 10000) {
      EXPECT_EQ(r.status, Status::crashed) << r.error;
      EXPECT_EQ(r.attempts, 3u) << "charged its own attempts, alone";
    } else {
      ASSERT_TRUE(r.ok()) << i << ": " << r.error;
      ASSERT_EQ(r.value<std::string>(), "in-" + std::to_string(i));
    }
  }
  if (short_tasks) {
    EXPECT_LT(distinct_runs(futures), futures.size() / 4) << "the flood went in batches";
  }
}

// cancel() of a task in a batch that waits takes the batch back: that task ends cancelled,
// the others run (again alone) and succeed. A shutdown that cancels what waits settles
// every future of every batch.
TEST(Api, CancellingATaskInABatchCancelsItAloneAndShutdownSettlesEveryBatch) {
  Pool pool(one_worker());
  const bool short_tasks = warm_up(pool, "square", procpool::Codec<uint64_t>::encode(3));
  auto blockers = occupy_workers(pool, 300);
  std::vector<procpool::TaskFuture> futures;
  for (uint64_t i = 0; i < 4000; ++i) futures.push_back(pool.submit("square", i));
  std::this_thread::sleep_for(20ms);  // taken by the loop, in batches, queued behind the blocker
  EXPECT_TRUE(futures[2000].cancel());
  EXPECT_EQ(futures[2000].get().status, Status::cancelled);
  for (uint64_t i = 0; i < futures.size(); ++i) {
    if (i == 2000) continue;
    const Result r = futures[i].get();
    ASSERT_TRUE(r.ok()) << i << ": " << r.error;
    ASSERT_EQ(r.value<uint64_t>(), i * i);
  }
  if (short_tasks) {
    EXPECT_LT(distinct_runs(futures), futures.size() / 4) << "the flood went in batches";
  }
  EXPECT_TRUE(blockers.front().get().ok());
  blockers = occupy_workers(pool, 200);
  futures.clear();
  for (uint64_t i = 0; i < 4000; ++i) futures.push_back(pool.submit("square", i));
  std::this_thread::sleep_for(20ms);
  pool.shutdown(/*wait=*/true, /*cancel_pending=*/true);
  int cancelled = 0;
  for (const auto& f : futures) {
    ASSERT_TRUE(f.ready()) << "every future is fulfilled once shutdown returns";
    cancelled += f.get().status == Status::cancelled;
  }
  EXPECT_EQ(cancelled, 4000);
}

// Short tasks left to gather for a batch while the workers are busy with long ones: the
// pool's loop, which does not sleep while posts wait, must not spin for as long as the
// long tasks run (it takes them after a short while and sleeps).
TEST(Api, ShortTasksGatheringBehindLongOnesDoNotKeepThePoolSpinning) {
  Pool pool(two_workers());
  warm_up(pool, "square", procpool::Codec<uint64_t>::encode(3));
  std::vector<procpool::TaskFuture> long_tasks;
  for (int i = 0; i < 40; ++i) long_tasks.push_back(pool.submit("sleep_ms", uint32_t{700}));
  ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 2));
  auto cpu_ms = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
  };
  const double before = cpu_ms();
  std::vector<procpool::TaskFuture> short_tasks;
  for (uint64_t i = 0; i < 5; ++i) short_tasks.push_back(pool.submit("square", i));
  std::this_thread::sleep_for(400ms);
  EXPECT_LT(cpu_ms() - before, 100.0) << "this process's CPU time over 400 ms while its pool waits";
  pool.shutdown(/*wait=*/true, /*cancel_pending=*/true);
  for (auto& f : short_tasks) EXPECT_TRUE(f.ready());
}

TEST(Api, APendingTaskCanBeCancelledARunningOneCannot) {
  Pool pool(one_worker());
  auto running = pool.submit("sleep_ms", uint32_t{400});
  ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 1));
  std::vector<procpool::TaskFuture> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit("sleep_ms", uint32_t{10}));
  EXPECT_TRUE(queued.back().cancel());
  EXPECT_EQ(queued.back().get().status, Status::cancelled);
  EXPECT_FALSE(running.cancel());
  EXPECT_EQ(running.get().status, Status::ok);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(queued[i].get().status, Status::ok);
  EXPECT_FALSE(queued.back().cancel());  // already done
}

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
#if defined(PROCPOOL_ASAN) || defined(PROCPOOL_TSAN)
constexpr double kSlack = 10;  // a sanitized worker is slow to die and to start
#else
constexpr double kSlack = 1;
#endif
}  // namespace

TEST(Api, CancelNeverWaitsForARunningTaskAndTakesOneBackFromAWorkersQueue) {
  Pool pool(one_worker());
  auto running = pool.submit("sleep_ms", uint32_t{1000});
  ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 1));
  // Sent at once to the one worker's ring, behind the running task.
  auto queued = pool.submit("sleep_ms", uint32_t{10});
  auto last = pool.submit("sleep_ms", uint32_t{20});
  std::this_thread::sleep_for(20ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(last.cancel());
  EXPECT_LT(ms_since(t0), 50 * kSlack) << "cancel() waited for the running task";
  EXPECT_EQ(last.get().status, Status::cancelled);
  t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(running.cancel());  // it runs: not cancelled, and not waited for
  EXPECT_LT(ms_since(t0), 50 * kSlack);
  EXPECT_FALSE(running.ready());
  EXPECT_EQ(running.get().status, Status::ok);
  EXPECT_EQ(queued.get().status, Status::ok);  // taken back with the cancelled one, sent again
}

TEST(Api, KillStopsARunningTaskAndThePoolGoesOn) {
  Pool pool(one_worker());
  auto long_one = pool.submit("sleep_ms", uint32_t{10000});
  auto behind = pool.submit("square", uint64_t{6});
  ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 1));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(long_one.kill());
  EXPECT_LT(ms_since(t0), 100 * kSlack);
  const Result r = long_one.get();
  EXPECT_EQ(r.status, Status::cancelled);
  EXPECT_NE(r.error.find("killed by TaskFuture::kill()"), std::string::npos) << r.error;
  // What was queued behind it runs on the worker that replaces it, uncharged.
  const Result b = behind.get();
  EXPECT_EQ(b.value<uint64_t>(), 36u);
  EXPECT_EQ(b.attempts, 1u);
  EXPECT_EQ(pool.submit("square", uint64_t{7}).get().value<uint64_t>(), 49u);
  EXPECT_FALSE(long_one.kill());  // already done
}

TEST(Api, MapWithATimeoutKeepsWhatFinishedAndCancelsTheRest) {
  for (const procpool::OnTimeout how : {procpool::OnTimeout::cancel, procpool::OnTimeout::kill}) {
    Pool pool(one_worker());
    const auto t0 = std::chrono::steady_clock::now();
    try {
      pool.map("sleep_ms", std::vector<uint32_t>{0, 0, 3000, 1000, 1000}, 1, 500ms, how);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const procpool::TimeoutError& e) {
      EXPECT_LT(ms_since(t0), 500 + 100 * kSlack) << e.what();
      ASSERT_EQ(e.finished.size(), 2u) << e.what();
      EXPECT_EQ(e.finished[0].index, 0u);
      EXPECT_EQ(e.finished[1].index, 1u);
      EXPECT_TRUE(e.finished[0].ok() && e.finished[1].ok());
      if (how == procpool::OnTimeout::cancel) {
        EXPECT_NE(std::string(e.what()).find("2 tasks cancelled, 1 left running"), std::string::npos) << e.what();
      } else {
        EXPECT_NE(std::string(e.what()).find("3 tasks killed or cancelled"), std::string::npos) << e.what();
      }
    }
    // Nothing of the map runs on: the next task waits at most for the 3 s one (cancel),
    // or for nothing but a new worker (kill).
    EXPECT_EQ(pool.submit("square", uint64_t{3}).get().value<uint64_t>(), 9u);
    if (how == procpool::OnTimeout::cancel) {
      EXPECT_LT(ms_since(t0), 3000 + 400 * kSlack);
    } else {
      EXPECT_LT(ms_since(t0), 500 + 400 * kSlack);
    }
  }
}

TEST(Api, TerminateAndKillWorkersEndEveryTaskAtOnce) {
  for (const bool terminate : {true, false}) {
    Pool pool(two_workers());
    std::vector<procpool::TaskFuture> futures;
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit("sleep_ms", uint32_t{1000}));
    ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 2));
    const auto t0 = std::chrono::steady_clock::now();
    if (terminate) {
      pool.terminate_workers();
    } else {
      pool.kill_workers();
    }
    EXPECT_LT(ms_since(t0), 1000 * kSlack);
    for (auto& f : futures) {
      ASSERT_TRUE(f.ready());
      EXPECT_EQ(f.get().status, Status::cancelled);
    }
    EXPECT_THROW(pool.submit("square", uint64_t{1}), procpool::PoolError);
  }
}

TEST(Api, WaitReturnsWhenItsConditionHoldsAndCountsADuplicateOnce) {
  Pool pool(two_workers());
  auto quick = pool.submit("sleep_ms", uint32_t{10});
  auto slow = pool.submit("sleep_ms", uint32_t{800});
  auto bad = pool.submit("must_be_positive", int64_t{-1});
  // Timeout 0 looks and returns at once.
  auto t0 = std::chrono::steady_clock::now();
  procpool::WaitResult r = procpool::wait({quick, slow, quick}, procpool::AllCompleted, 0ns);
  EXPECT_LT(ms_since(t0), 20 * kSlack);
  EXPECT_EQ(r.done.size() + r.not_done.size(), 2u);
  r = procpool::wait({slow, quick, quick}, procpool::FirstCompleted);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0].get().value<uint32_t>(), 10u);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_FALSE(r.not_done[0].ready());
  // FirstException: the failing one ends the wait, long before the slow one.
  r = procpool::wait({slow, bad}, procpool::FirstException);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0].get().status, Status::error);
  EXPECT_FALSE(slow.ready());
  // A timeout that passes leaves the slow one in not_done, and cancels nothing.
  r = procpool::wait({slow}, procpool::AllCompleted, 50ms);
  EXPECT_TRUE(r.done.empty());
  r = procpool::wait({slow, quick, bad});
  EXPECT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.not_done.empty());
  EXPECT_EQ(slow.get().status, Status::ok);
}

TEST(Api, AsCompletedYieldsEachFutureOnceInTheOrderTheyEnd) {
  Pool pool(two_workers());
  std::vector<procpool::TaskFuture> futures;
  for (uint32_t ms : {600u, 50u, 300u}) futures.push_back(pool.submit("sleep_ms", ms));
  futures.push_back(futures[1]);  // given twice, yielded once
  std::vector<uint32_t> order;
  for (procpool::TaskFuture& f : procpool::as_completed(futures)) order.push_back(f.get().value<uint32_t>());
  EXPECT_EQ(order, (std::vector<uint32_t>{50, 300, 600}));
  // Those done already come first; with a timeout that passes, TimeoutError.
  auto late = pool.submit("sleep_ms", uint32_t{2000});
  procpool::AsCompleted completions = procpool::as_completed({late, futures[0]}, 100ms);
  const std::optional<procpool::TaskFuture> first = completions.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->get().value<uint32_t>(), 600u);
  EXPECT_THROW(completions.next(), procpool::TimeoutError);
  EXPECT_TRUE(late.kill());
}

TEST(Api, DoneCallbacksRunOnThePoolsThreadAndOneThatThrowsHurtsNoOther) {
  Pool pool(two_workers());
  std::mutex m;
  std::condition_variable cv;
  std::vector<uint64_t> seen;
  std::set<std::thread::id> threads;
  std::vector<std::thread> submitters;
  // From 10 threads, 20 tasks each, a callback each; every tenth callback throws.
  for (int t = 0; t < 10; ++t)
    submitters.emplace_back([&, t] {
      for (uint64_t i = 0; i < 20; ++i) {
        const uint64_t x = static_cast<uint64_t>(t) * 100 + i;
        pool.submit("square", x).on_done([&, x](const Result& r) {
          {
            std::lock_guard<std::mutex> lock(m);
            seen.push_back(r.value<uint64_t>());
            threads.insert(std::this_thread::get_id());
          }
          cv.notify_all();
          if (x % 10 == 0) throw std::runtime_error("a callback's own bug");
        });
      }
    });
  for (auto& th : submitters) th.join();
  std::unique_lock<std::mutex> lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return seen.size() == 200; })) << seen.size();
  EXPECT_EQ(threads.size(), 1u) << "callbacks run one after another on the pool's callback thread";
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  uint64_t sum = 0, want = 0;
  for (uint64_t v : seen) sum += v;
  for (uint64_t t = 0; t < 10; ++t)
    for (uint64_t i = 0; i < 20; ++i) want += (t * 100 + i) * (t * 100 + i);
  EXPECT_EQ(sum, want);
  lock.unlock();
  // On a future done already, it runs too; and after shutdown(wait) none is left to run.
  auto done = pool.submit("square", uint64_t{5});
  done.wait();
  std::atomic<bool> ran{false};
  done.on_done([&](const Result& r) { ran = r.value<uint64_t>() == 25; });
  pool.shutdown();
  EXPECT_TRUE(ran.load());
}

namespace {
// A generator of 0, 1, ... count-1 that holds nothing, and throws when it reaches `bad`
// (none: count): an input range failing midway. Written out, as Clang 14 cannot compile
// libstdc++ 12's std::views.
class Counting {
 public:
  Counting(uint64_t count, uint64_t bad) : count_(count), bad_(bad) {}
  class iterator {
   public:
    using value_type = uint64_t;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(uint64_t at, uint64_t bad) : at_(at), bad_(bad) {}
    uint64_t operator*() const {
      if (at_ == bad_) throw std::runtime_error("input " + std::to_string(at_) + " cannot be made");
      return at_;
    }
    iterator& operator++() {
      ++at_;
      return *this;
    }
    bool operator==(const iterator& o) const { return at_ == o.at_; }
    bool operator!=(const iterator& o) const { return at_ != o.at_; }

   private:
    uint64_t at_ = 0, bad_ = 0;
  };
  iterator begin() const { return {0, bad_}; }
  iterator end() const { return {count_, bad_}; }

 private:
  uint64_t count_, bad_;
};

Counting throwing_at(uint64_t bad, uint64_t count) { return {count, bad}; }
Counting counting(uint64_t count) { return {count, count}; }

uint64_t rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string key; status >> key;) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      status >> kb;
      return kb;
    }
    status.ignore(1000, '\n');
  }
  return 0;
}
}  // namespace

TEST(Api, ImapIsLazyInInputOrderAndAThrowingInputComesAtItsPlace) {
  Pool pool(two_workers());
  std::vector<uint64_t> squares;
  for (const Result& r : pool.imap("square", counting(100), 8)) {
    EXPECT_EQ(r.index, squares.size());
    squares.push_back(r.value<uint64_t>());
  }
  ASSERT_EQ(squares.size(), 100u);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(squares[i], i * i);
  // A generator that throws at item 3: the results of 0, 1, 2, then its exception, then the end.
  for (const bool ordered : {true, false}) {
    procpool::LazyResults results = ordered ? pool.imap("square", throwing_at(3, 10), 8)
                                            : pool.imap_unordered("square", throwing_at(3, 10), 8);
    std::set<std::size_t> indices;
    for (int i = 0; i < 3; ++i) {
      const std::optional<Result> r = results.next();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->value<uint64_t>(), r->index * r->index);
      indices.insert(r->index);
    }
    EXPECT_EQ(indices, (std::set<std::size_t>{0, 1, 2}));
    try {
      results.next();
      ADD_FAILURE() << "the input's exception did not come";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "input 3 cannot be made");
    }
    EXPECT_FALSE(results.next());
  }
  // At item 0: nothing runs, the first next() throws.
  procpool::LazyResults none = pool.imap("square", throwing_at(0, 10));
  EXPECT_THROW(none.next(), std::runtime_error);
  EXPECT_EQ(pool.submit("square", uint64_t{4}).get().value<uint64_t>(), 16u);  // the pool goes on
  // Unordered: every input once.
  std::set<std::size_t> seen;
  for (const Result& r : pool.imap_unordered("square", std::vector<uint64_t>{5, 6, 7, 8})) {
    EXPECT_TRUE(seen.insert(r.index).second);
    EXPECT_EQ(r.value<uint64_t>(), (r.index + 5) * (r.index + 5));
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(Api, ImapOverAMillionInputsRunsInBoundedMemory) {
  // The issue's case is 10 million; a million with 8 in flight shows the same (no input
  // is held before its turn, no result after it is read) in a tenth of the time.
#if defined(PROCPOOL_ASAN) || defined(PROCPOOL_TSAN)
  // ThreadSanitizer's own memory grows with the run (9 MiB over 100k tasks here).
  constexpr uint64_t kInputs = 400'000, kGrowthKb = 32 * 1024;
#else
  constexpr uint64_t kInputs = 1'000'000, kGrowthKb = 8 * 1024;
#endif
  constexpr std::size_t kBuffer = 8;
  Pool pool(two_workers());
  pool.submit("square", uint64_t{1}).get();  // the pool's first allocations are behind us
  const uint64_t rss_before = rss_kb();
  uint64_t count = 0, sum = 0;
  for (const Result& r : pool.imap("square", counting(kInputs), kBuffer)) {
    sum += r.value<uint64_t>() % 1000;
    ++count;
  }
  EXPECT_EQ(count, kInputs);
  uint64_t want = 0;
  for (uint64_t i = 0; i < kInputs; ++i) want += (i * i) % 1000;
  EXPECT_EQ(sum, want);
  const uint64_t rss_at_end = rss_kb();
  // A few MiB at most (allocator noise), where holding every input's future, state and
  // result would take hundreds. Not under AddressSanitizer, whose quarantine keeps what is
  // freed (up to 256 MiB) and so grows the RSS of any long run alike (400 MiB seen).
#if !defined(PROCPOOL_ASAN)
  EXPECT_LT(rss_at_end, rss_before + kGrowthKb) << "RSS grew from " << rss_before << " to " << rss_at_end << " kB";
#else
  (void)rss_before;
  (void)rss_at_end;
  (void)kGrowthKb;
#endif
}

TEST(Api, OptionsOutOfRangeAreRefusedAsTheConfigFileRefusesThem) {
  procpool::Options o;
  o.max_attempts = 0;
  try {
    Pool pool(o);
    ADD_FAILURE() << "max_attempts 0 accepted";
  } catch (const procpool::PoolError& e) {
    EXPECT_STREQ(e.what(), "Options::max_attempts must be from 1 to 100, not 0");
  }
  o = procpool::Options{};
  o.workers = UINT_MAX;
  try {
    Pool pool(o);
    ADD_FAILURE() << "workers UINT_MAX accepted";
  } catch (const procpool::PoolError& e) {
    EXPECT_STREQ(e.what(), "Options::workers must be from 1 to 1024 (0: the usable cores), not 4294967295");
  }
}

TEST(Api, ErrorsAndCrashesAreResultsAndThePoolGoesOn) {
  Pool pool(two_workers());
  const Result bad = pool.apply("must_be_positive", int64_t{-5});
  EXPECT_EQ(bad.status, Status::error);
  EXPECT_EQ(bad.error, "negative: -5");
  EXPECT_THROW(bad.value<std::string>(), procpool::TaskFailed);
  const Result crashed = pool.apply("crash_on", std::string("crash"));
  EXPECT_EQ(crashed.status, Status::crashed);
  EXPECT_EQ(crashed.error, "killed by SIGSEGV on 3 attempts");
  EXPECT_EQ(pool.apply("crash_on", std::string("fine")).value<std::string>(), "fine");
  EXPECT_THROW(pool.apply("square", std::string("12 bytes?")).value<uint64_t>(), procpool::TaskFailed);
}

TEST(Api, JsonInJsonOut) {
  Pool pool(two_workers());
  const Result r = pool.apply("annotate", nlohmann::json{{"name", "x"}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.output_is_json);
  const auto j = r.value<nlohmann::json>();
  EXPECT_EQ(j["name"], "x");
  EXPECT_EQ(j["seen_by"].get<int>(), r.pid);
}

TEST(Api, TheInitializerRunsInEveryChildBeforeAnyTask) {
  procpool::Options o = two_workers();
  o.initializer = "set_marker";
  o.initializer_input = "ready";
  Pool pool(o);
  std::set<pid_t> pids;
  for (const Result& r : pool.map("get_marker", std::vector<std::string>(50, ""))) {
    EXPECT_EQ(r.value<std::string>(), "ready");
    pids.insert(r.pid);
  }
  EXPECT_EQ(pids.size(), 2u);
}

TEST(Api, AFailingInitializerIsAClearErrorAtConstruction) {
  procpool::Options o = two_workers();
  o.initializer = "failing_init";
  try {
    Pool pool(o);
    FAIL() << "the pool started";
  } catch (const procpool::PoolError& e) {
    EXPECT_NE(std::string(e.what()).find("initializer failed: cannot set up"), std::string::npos) << e.what();
  }
}

TEST(Api, MisuseIsAPoolError) {
  Pool pool(two_workers());
  EXPECT_THROW(pool.submit("no_such_kind", std::string("x")), procpool::PoolError);
  pool.shutdown();
  EXPECT_THROW(pool.submit("square", uint64_t{1}), procpool::PoolError);
  pool.shutdown();  // idempotent
  procpool::Options bad;
  bad.kind_options["thumbnail"].set("size", "banana");
  EXPECT_THROW(Pool{bad}, procpool::PoolError);
}

TEST(Api, APluginKindTakesTheOptionsItDeclares) {
  procpool::Options o = two_workers();
  o.plugins = {OPTIONS_PLUGIN};
  o.kind_options["label"].set("prefix", "api:");
  o.kind_options["label"].set("times", "2");
  Pool pool(o);
  const Result r = pool.submit("label", std::string("x")).get();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.output, "api:xx");
  pool.shutdown();
  // A value out of its range names the kind and the option, not a flag.
  procpool::Options bad = two_workers();
  bad.plugins = {OPTIONS_PLUGIN};
  bad.kind_options["label"].set("times", "9");
  try {
    Pool refused(bad);
    FAIL() << "times = 9 was accepted";
  } catch (const procpool::PoolError& e) {
    EXPECT_STREQ(e.what(), "label option 'times' must be an integer from 1 to 5, not '9'");
  }
}

TEST(Api, ShutdownCanCancelWhatIsQueued) {
  Pool pool(one_worker());
  std::vector<procpool::TaskFuture> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(pool.submit("sleep_ms", uint32_t{50}));
  ASSERT_TRUE(procpool::testing::wait_until_running(getpid(), 1));
  pool.shutdown(/*wait=*/true, /*cancel_pending=*/true);
  int ok = 0, cancelled = 0;
  for (auto& f : futures) {
    ASSERT_TRUE(f.ready()) << "every future is fulfilled once shutdown returns";
    ok += f.get().status == Status::ok;
    cancelled += f.get().status == Status::cancelled;
  }
  EXPECT_EQ(ok + cancelled, 20);
  EXPECT_GE(cancelled, 15);
  EXPECT_GE(ok, 1);
}

TEST(Api, MapWithATimeoutThrowsTimeoutError) {
  Pool pool(two_workers());
  EXPECT_THROW(pool.map("sleep_ms", std::vector<uint32_t>{1000, 1000}, 1, 100ms), procpool::TimeoutError);
}

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

TEST(Api, TheContainmentIsChosenAndNamed) {
  procpool::Options o = two_workers();
  o.containment = "process-group";
  {
    Pool pool(o);
    EXPECT_EQ(pool.containment(), "process groups");
    EXPECT_EQ(pool.apply("square", uint64_t{3}).value<uint64_t>(), 9u);
  }
  o.containment = "cgroups";
  try {
    Pool bad(o);
    FAIL() << "a containment that does not exist was accepted";
  } catch (const procpool::PoolError& e) {
    EXPECT_NE(std::string(e.what()).find("not 'cgroups'"), std::string::npos) << e.what();
  }
}

namespace {

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

int zombie_children() {
  const auto all = procpool::testing::processes();
  return static_cast<int>(std::count_if(all.begin(), all.end(), [](const procpool::testing::ProcEntry& e) {
    return e.state == 'Z' && e.ppid == getpid();
  }));
}

}  // namespace

TEST(Api, AnInitializerThatCrashesFailsThePoolAtOnceNamingIt) {
  for (unsigned workers : {1u, 2u}) {
    procpool::Options o;
    o.workers = workers;
    o.initializer = "crash_on";
    o.initializer_input = "crash";
    const auto start = std::chrono::steady_clock::now();
    try {
      Pool pool(o);
      FAIL() << "a pool whose initializer segfaults started";
    } catch (const procpool::PoolError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("killed by SIGSEGV"), std::string::npos) << what;
      EXPECT_NE(what.find("initializer 'crash_on'"), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << workers << " workers";
  }
}

TEST(Api, FailedPoolsLeaveNoDescriptorNorZombieBehind) {
  procpool::Options o;
  o.workers = 2;
  o.initializer = "failing_init";  // every worker fails while starting: the pool fails
  procpool::Options missing = two_workers();
  missing.executable = "/nonexistent/procpool-worker";  // the spawn itself fails
  EXPECT_THROW(Pool{o}, procpool::PoolError);  // the first may open what stays (logs, caches)
  EXPECT_THROW(Pool{missing}, procpool::PoolError);
  const int fds = open_fds(), zombies = zombie_children();
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(Pool{o}, procpool::PoolError);
    EXPECT_THROW(Pool{missing}, procpool::PoolError);
  }
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(zombie_children(), zombies);
}
