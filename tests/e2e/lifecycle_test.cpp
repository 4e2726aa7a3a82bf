// Crash isolation and the worker lifecycle, end to end through `procpool run`, with the
// test plugin's kinds that really crash, hang and leak, and real signals.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::run_cli;
using procpool::testing::start_background;
using procpool::testing::wait_status;

namespace {

const std::string kPlugin = std::string("--plugin ") + TEST_PLUGIN + " ";

std::map<std::string, json> by_input(const std::vector<json>& results) {
  std::map<std::string, json> out;
  for (const json& j : results) out[j["input"].get<std::string>()] = j;
  return out;
}

std::string repeat(const std::string& word, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += word + "\n";
  return out;
}

}  // namespace

TEST(Lifecycle, EachKindOfDeathIsChargedToItsTaskWithItsCause) {
  const CliRun r = run_cli("run misbehave " + kPlugin + "--results - ok1 segv ok2 abort exit3 ok3");
  EXPECT_EQ(r.status, 1) << r.err;
  auto results = by_input(json_lines(r.out));
  ASSERT_EQ(results.size(), 6u) << r.out;
  EXPECT_EQ(results["segv"]["error"], "killed by SIGSEGV on 3 attempts");
  EXPECT_EQ(results["abort"]["error"], "killed by SIGABRT on 3 attempts");
  EXPECT_EQ(results["exit3"]["error"], "exit status 3 on 3 attempts");
  for (const char* bad : {"segv", "abort", "exit3"}) {
    EXPECT_EQ(results[bad]["status"], "crashed");
    EXPECT_EQ(results[bad]["attempts"], 3);
  }
  for (const char* ok : {"ok1", "ok2", "ok3"}) EXPECT_EQ(results[ok]["status"], "ok") << ok;
  EXPECT_NE(r.err.find("restarts: 9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("crashed task"), std::string::npos) << r.err;
}

TEST(Lifecycle, OnePoisonInputAmongAThousand) {
  std::string input = repeat("fine", 500) + "segv\n" + repeat("fine", 499);
  const CliRun r = run_cli("run misbehave " + kPlugin + "--results - --input-file -", input);
  EXPECT_EQ(r.status, 1);
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 1000u);
  std::set<uint64_t> ids;
  int ok = 0, crashed = 0;
  for (const json& j : results) {
    ids.insert(j["id"].get<uint64_t>());
    if (j["status"] == "ok") ++ok;
    if (j["status"] == "crashed") {
      ++crashed;
      EXPECT_EQ(j["input"], "segv");
      EXPECT_EQ(j["attempts"], 3);
    }
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ok, 999);
  EXPECT_EQ(crashed, 1);
}

TEST(Lifecycle, AHangingTaskTimesOutAndTheRestGoOn) {
  CliRun r = run_cli("run misbehave " + kPlugin + "--timeout 0.3 --results - ok hang sleep:50 ok2");
  EXPECT_EQ(r.status, 1);
  auto results = by_input(json_lines(r.out));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results["hang"]["status"], "timeout");
  EXPECT_NE(results["hang"]["error"].get<std::string>().find("limit 0.30 s"), std::string::npos);
  EXPECT_EQ(results["hang"]["attempts"], 1);  // not retried unless asked
  for (const char* ok : {"ok", "sleep:50", "ok2"}) EXPECT_EQ(results[ok]["status"], "ok");
  // Retried when asked, up to --max-attempts.
  r = run_cli("run misbehave " + kPlugin + "--timeout 0.2 --retry-timeouts --max-attempts 2 --results - hang");
  EXPECT_EQ(r.status, 1) << r.err;
  results = by_input(json_lines(r.out));
  ASSERT_EQ(results.size(), 1u) << r.out;
  EXPECT_EQ(results["hang"]["status"], "timeout");
  EXPECT_EQ(results["hang"]["attempts"], 2);
}

TEST(Lifecycle, TimeoutAsAPercentageOfTheMedianRunTime) {
  // No limit before 10 run times are known: the 6th task, of 400 ms, runs to its end. Then
  // 300% of the 50 ms median is 150 ms: a task of 120 ms is in time, one of 2 s is not.
  const CliRun r = run_cli("run misbehave " + kPlugin + "-j 1 --timeout 300% --results - --input-file -",
                           repeat("sleep:50", 5) + "sleep:400\n" + repeat("sleep:50", 14) + "sleep:120\nsleep:2000\n");
  EXPECT_EQ(r.status, 1) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 22u);
  for (const json& j : results) {
    if (j["input"] == "sleep:2000") {
      EXPECT_EQ(j["status"], "timeout") << j;
      EXPECT_NE(j["error"].get<std::string>().find("(limit 0.15 s)"), std::string::npos) << j;
    } else {
      EXPECT_EQ(j["status"], "ok") << j;
    }
  }
}

TEST(Lifecycle, ATimeoutByTheMedianIsNeverUnder100ms) {
  // 300% of a 10 ms median would be 30 ms; the floor makes it 100: 60 ms is in time.
  const CliRun r = run_cli("run misbehave " + kPlugin + "-j 1 --timeout 300% --results - --input-file -",
                           repeat("sleep:10", 20) + "sleep:60\nsleep:2000\n");
  EXPECT_EQ(r.status, 1) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 22u);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const json& j) { return j["status"] == "ok"; }), 21);
  const auto results = by_input(lines);
  EXPECT_EQ(results.at("sleep:60")["status"], "ok") << results.at("sleep:60");
  EXPECT_EQ(results.at("sleep:2000")["status"], "timeout");
  EXPECT_NE(results.at("sleep:2000")["error"].get<std::string>().find("(limit 0.10 s)"), std::string::npos)
      << results.at("sleep:2000");
}

TEST(Lifecycle, AChildOverTheHardMemoryLimitIsKilledAndItsTaskCharged) {
  const CliRun r = run_cli("run misbehave " + kPlugin +
                           "--max-memory-per-child 100M --hard-memory-per-child 200M --max-attempts 2 --results - "
                           "ok leak ok2");
  EXPECT_EQ(r.status, 1);
  auto results = by_input(json_lines(r.out));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results["leak"]["status"], "crashed");
  // The kernel's cap where a memory controller counts the worker, else the polled limit.
  const std::string error = results["leak"]["error"];
  EXPECT_TRUE(error.find("over the hard limit of 200 MiB on 2 attempts") != std::string::npos ||
              (error.find("killed by the OOM killer at ") == 0 &&
               error.find("(hard limit 200 MiB) on 2 attempts") != std::string::npos))
      << results["leak"];
  EXPECT_EQ(results["ok"]["status"], "ok");
  EXPECT_EQ(results["ok2"]["status"], "ok");
}

TEST(Lifecycle, AChildOverTheSoftMemoryLimitIsReplacedWithoutLosingATask) {
  // Each task keeps 40 MiB: past 100 MiB the child finishes and a fresh one takes over.
  // The hard limit stays far: the soft one is polled (a task or two may run before it is
  // seen), while the kernel holds the hard one to the byte.
  const CliRun r = run_cli("run misbehave " + kPlugin +
                               "-j 1 --max-memory-per-child 100M --hard-memory-per-child 400M --results - --input-file -",
                           repeat("hold:40", 10));
  EXPECT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 10u);
  std::set<int> pids;
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "ok");
    pids.insert(j["pid"].get<int>());
  }
  // Each child keeps 2 to 4 tasks' 40 MiB: replaced after the one that took it past 100 MiB
  // (2 or 3, with its own few MiB), or one later where the poll came just before.
  EXPECT_GE(pids.size(), 3u) << "children should have been replaced as they grew";
  EXPECT_LE(pids.size(), 5u) << "children were replaced under the limit";
  EXPECT_NE(r.err.find("restarts: 0"), std::string::npos) << "recycling is not a restart: " << r.err;
}

TEST(Lifecycle, MaxTasksPerChildRecyclesChildren) {
  const CliRun r = run_cli("run misbehave " + kPlugin + "-j 1 --max-tasks-per-child 3 --results - a b c d e f g");
  EXPECT_EQ(r.status, 0) << r.err;
  std::map<int, int> per_pid;
  for (const json& j : json_lines(r.out)) ++per_pid[j["pid"].get<int>()];
  ASSERT_EQ(per_pid.size(), 3u);
  for (const auto& [pid, n] : per_pid) EXPECT_LE(n, 3);
}

TEST(Lifecycle, ACrashLoopStopsTheRunWithAClearErrorInsteadOfForkingForever) {
  const auto start = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run misbehave " + kPlugin +
                           "--max-attempts 100 --max-restarts 5 --restart-period 60 --results - --input-file -",
                           repeat("segv", 50));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("workers keep dying (6 restarts within 60 s"), std::string::npos) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 50u) << "every task still gets exactly one result";
  for (const json& j : results) EXPECT_TRUE(j["status"] == "cancelled" || j["status"] == "crashed") << j;
  EXPECT_LT(took, std::chrono::seconds(10));
}

// The backoff (10 ms doubling to 2 s) soon spaces restarts wider than a 1 s period, so
// the period alone never sees more than 10: deaths with tasks waiting and none finishing
// stop the run by their count (the 11th comes about 4.6 s in), not after 100 attempts.
// Short tasks make the queues deep; a crash then leaves one worker ready while the other
// restarts, and it took all four long tasks into its queue (4 s where 2 s would do). The
// queue behind a long task is taken back when a worker is idle: within one task of ideal.
TEST(Lifecycle, AfterACrashLongTasksAreNotStuckInOneWorkersQueue) {
  const CliRun r = run_cli("run misbehave " + kPlugin + "-j 2 --max-attempts 1 --results - --input-file -",
                           repeat("ok", 200) + "segv\n" + repeat("sleep:1000", 4));
  auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 205u) << r.err;
  double first_start = 1e18, last_end = 0;
  std::map<int, int> per_worker;
  for (const json& j : results) {
    if (j["input"] != "sleep:1000") continue;
    EXPECT_EQ(j["status"], "ok") << j;
    first_start = std::min(first_start, j["start_ms"].get<double>());
    last_end = std::max(last_end, j["end_ms"].get<double>());
    ++per_worker[j["worker"].get<int>()];
  }
  EXPECT_LT(last_end - first_start, 3000) << "the long tasks waited in one queue";
  EXPECT_EQ(per_worker, (std::map<int, int>{{0, 2}, {1, 2}})) << r.out.substr(r.out.size() - 1500);
}

TEST(Lifecycle, ACrashLoopSlowedByTheBackoffStillStops) {
  const auto start = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run misbehave " + kPlugin +
                           "-j 1 --max-attempts 100 --max-restarts 10 --restart-period 1 --results - segv ok");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("workers keep dying (11 deaths with tasks waiting and none finishing; last: killed by SIGSEGV"),
            std::string::npos)
      << r.err;
  auto results = by_input(json_lines(r.out));
  ASSERT_EQ(results.size(), 2u) << r.out;
  EXPECT_EQ(results["segv"]["status"], "cancelled") << results["segv"];  // back in the queue when the run stopped
  EXPECT_EQ(results["segv"]["attempts"], 11) << results["segv"];
  EXPECT_EQ(results["ok"]["status"], "cancelled") << results["ok"];
  EXPECT_LT(took, std::chrono::seconds(15));
}

TEST(Lifecycle, AKindWhoseInitializerFailsIsAnImmediateClearError) {
  const CliRun r = run_cli("run bad-start " + kPlugin + "--results - a b");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("a worker could not start: bad-start: initializer failed on purpose"), std::string::npos)
      << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 2u);
  for (const json& j : results) EXPECT_EQ(j["status"], "cancelled");
}

TEST(Lifecycle, FirstSignalDrainsSecondKills) {
  const std::string dir = fs::temp_directory_path() / ("pp-signal-" + std::to_string(getpid()));
  fs::create_directories(dir);
  // Each task leaves a file when it starts, so the signal is sent once two really run
  // (start-up time varies: sanitizer builds are slow to start).
  auto args_for = [&](const std::string& tag) {
    std::string args = "run exec -j 2 --results -";
    for (int i = 0; i < 20; ++i) args += " " + dir + "/" + tag + "-" + std::to_string(i);
    return args + " -- sh -c 'touch \"$0\"; sleep 0.6' {}";
  };
  auto started = [&](const std::string& tag) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(tag + "-", 0) == 0;
    return n;
  };
  auto wait_started = [&](const std::string& tag) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (started(tag) < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  // One SIGINT: the two running tasks finish, the other 18 are cancelled.
  pid_t pid = start_background(args_for("a"), dir + "/out1", dir + "/err1");
  wait_started("a");
  kill(pid, SIGINT);
  EXPECT_EQ(wait_status(pid), 130);
  auto results = json_lines(procpool::testing::read_file(dir + "/out1"));
  ASSERT_EQ(results.size(), 20u);
  int ok = 0, cancelled = 0;
  for (const json& j : results) {
    ok += j["status"] == "ok";
    cancelled += j["status"] == "cancelled";
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(cancelled, 18);
  EXPECT_EQ(started("a"), 2) << "nothing new started after the signal";
  // Two: the running ones are killed too, at once.
  pid = start_background(args_for("b"), dir + "/out2", dir + "/err2");
  wait_started("b");
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_status(pid), 143);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400)) << "did not wait for 600 ms tasks";
  results = json_lines(procpool::testing::read_file(dir + "/out2"));
  ASSERT_EQ(results.size(), 20u);
  for (const json& j : results) EXPECT_EQ(j["status"], "cancelled") << j;
  fs::remove_all(dir);
}

// --- A kind that runs many tasks at once in one child (AsyncTaskKind) ---

TEST(Lifecycle, AnAsyncKindRunsManyTasksAtOnceInOneChild) {
  const CliRun r = run_cli("run amisbehave " + kPlugin + "-j 1 --results - --input-file -", repeat("sleep:150", 16));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 16u);
  // The most tasks running at one instant, from their start and end times: the kind's
  // concurrency (8), on the one worker.
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["worker"], 0);
  }
  EXPECT_EQ(procpool::testing::max_overlap(results), 8);
}

TEST(Lifecycle, APoisonTaskAmongAsyncTasksCrashesAloneAndTheOthersSucceed) {
  // Eight tasks start together; one crashes the child after 50 ms. Nobody can tell which
  // did, so all eight go back uncharged and run alone: the poison task then crashes by
  // itself (charged, 3 attempts), and its neighbours finish ok with one attempt each.
  const CliRun r = run_cli("run amisbehave " + kPlugin + "-j 1 --results - --input-file -",
                           repeat("sleep:200", 3) + "segv:50\n" + repeat("sleep:200", 4) + "after\n");
  EXPECT_EQ(r.status, 1) << r.err;
  auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 9u) << r.out;
  int ok = 0;
  for (const json& j : results) {
    if (j["input"] == "segv:50") {
      EXPECT_EQ(j["status"], "crashed");
      EXPECT_EQ(j["attempts"], 3);
      EXPECT_EQ(j["error"], "killed by SIGSEGV on 3 attempts");
    } else {
      EXPECT_EQ(j["status"], "ok") << j.dump();
      EXPECT_EQ(j["attempts"], 1) << j.dump();
      ++ok;
    }
  }
  EXPECT_EQ(ok, 8);
  EXPECT_NE(r.err.find("restarts: 4"), std::string::npos) << r.err;
}

TEST(Lifecycle, AHangingAsyncTaskTimesOutAloneAndItsNeighboursAreRetriedUncharged) {
  // The hanging task and 7 sleeps start first; when the sleeps end, 7 more start, and
  // they are running when the hanging task's timeout kills the child at 0.5 s.
  const CliRun r = run_cli("run amisbehave " + kPlugin + "-j 1 --timeout 0.5 --results - --input-file -",
                           "hang\n" + repeat("sleep:300", 14));
  EXPECT_EQ(r.status, 1) << r.err;
  const auto all = json_lines(r.out);
  ASSERT_EQ(all.size(), 15u) << r.out;
  auto results = by_input(all);
  EXPECT_EQ(results["hang"]["status"], "timeout");
  EXPECT_EQ(results["hang"]["attempts"], 1);
  int rerun = 0;
  for (const json& j : all) {
    if (j["input"] == "hang") continue;
    EXPECT_EQ(j["status"], "ok") << j.dump();
    EXPECT_EQ(j["attempts"], 1) << j.dump();  // the kill was not theirs: uncharged
    if (j["pid"] != results["hang"]["pid"]) ++rerun;
  }
  EXPECT_GE(rerun, 1);  // some finished only in the replacement child
}

TEST(Lifecycle, ACrashSaysInFieldsHowTheWorkerEnded) {
  const CliRun r =
      run_cli("run misbehave " + kPlugin + "-j 1 --max-attempts 1 --results - --no-summary segv exit3 ok");
  std::map<std::string, json> by_input;
  for (const json& j : json_lines(r.out)) by_input[j["input"].get<std::string>()] = j;
  ASSERT_EQ(by_input.size(), 3u) << r.out << r.err;
  EXPECT_EQ(by_input["segv"]["status"], "crashed");
  EXPECT_EQ(by_input["segv"]["signal"], "SIGSEGV") << by_input["segv"];
  EXPECT_FALSE(by_input["segv"].contains("exit_code")) << by_input["segv"];
  EXPECT_EQ(by_input["exit3"]["exit_code"], 3) << by_input["exit3"];
  EXPECT_FALSE(by_input["exit3"].contains("signal")) << by_input["exit3"];
  EXPECT_FALSE(by_input["ok"].contains("signal"));
  EXPECT_FALSE(by_input["ok"].contains("exit_code"));
  const CliRun t = run_cli("run sleep -j 1 --timeout 0.2 --results - --no-summary 3000");
  const auto lines = json_lines(t.out);
  ASSERT_EQ(lines.size(), 1u) << t.out << t.err;
  EXPECT_EQ(lines[0]["status"], "timeout");
  EXPECT_EQ(lines[0]["signal"], "SIGKILL") << lines[0];
}

TEST(Lifecycle, AnErrorLongerThanARecordIsCutWithAMarker) {
  const CliRun r = run_cli("run misbehave " + kPlugin + "-j 1 --results - --no-summary fail:2000000");
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0]["status"], "error");
  const std::string error = lines[0]["error"].get<std::string>();
  EXPECT_EQ(error.rfind("why: xxx", 0), 0u) << error.substr(0, 80);
  const std::string marker = "... [2000005 bytes, cut]";
  ASSERT_GT(error.size(), marker.size());
  EXPECT_EQ(error.substr(error.size() - marker.size()), marker);
  EXPECT_GT(error.size(), 100000u);  // most of it kept, not a one-line size note
}

TEST(Lifecycle, ATasksCpuTimeIncludesTheCommandItRan) {
  const CliRun r = run_cli("run exec -j 1 --results - --no-summary a -- " + std::string("/usr/bin/python3") +
                           " -c 'x = sum(i * i for i in range(3000000))'");
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  ASSERT_EQ(lines[0]["status"], "ok") << lines[0];
  ASSERT_TRUE(lines[0].contains("cpu_ms")) << lines[0];
  // A CPU-bound command: its CPU time is a good part of the run (most of it on an idle
  // machine; a fifth still when another test shares the cores), not the worker's few µs.
  EXPECT_GT(lines[0]["cpu_ms"].get<double>(), 0.2 * lines[0]["run_ms"].get<double>()) << lines[0];
}
