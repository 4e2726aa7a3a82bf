// Containment (supervisor/engine/containment.hpp): what a task starts lives and dies with
// its worker, on every path this machine offers (each forced in turn with --containment):
// killed with its worker at a timeout, swept when its task ends, gone when the pool ends
// and when the supervisor itself is SIGKILLed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/ci_skip.hpp"
#include "tests/test_support.hpp"

using namespace procpool::testing;

namespace {

// A number no other process has on its command line: `sleep MARKER` is ours.
std::string unique_marker() {
  static int n = 0;
  return "30." + std::to_string(getpid()) + std::to_string(++n);
}

// Live `sleep WORD` processes.
int processes_with(const std::string& word) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline == "sleep" + std::string(1, '\0') + word + std::string(1, '\0') && alive(std::stoi(name))) ++count;
  }
  return count;
}

// Waits up to `limit` for the count to reach `want`; returns the last count.
int wait_for_count(const std::string& word, int want, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int n = processes_with(word);
  while (n != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    n = processes_with(word);
  }
  return n;
}

class Containment : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("containment");
    const CliRun probe = run_cli("run noop x --no-summary --containment " + GetParam());
    if (probe.status != 0 && probe.err.find("is not available here") != std::string::npos)
      PROCPOOL_SKIP_OUTSIDE_CI("this machine offers no " << GetParam() << ": " << probe.err);
    ASSERT_EQ(probe.status, 0) << probe.err;
  }
  std::string flag() const { return " --containment " + GetParam(); }
  // `procpool status` of a pool of this path, once it names `expected` (a segment found
  // while the pool starts names no containment yet) or after 1.5 s.
  std::string status_of_a_pool(const std::string& expected = "containment: ") {
    const std::string out = (dir_ / "status-out").string(), err = (dir_ / "status-err").string();
    const pid_t pool = start_background("run sleep -j 1 --no-summary" + flag() + " 1500", out, err);
    std::string text;
    for (int i = 0; i < 50 && text.find(expected) == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      text = run_cli("status --pid " + std::to_string(pool)).out;
    }
    EXPECT_EQ(wait_status(pool), 0) << read_file(err);
    return text;
  }
  // The pool says the kernel holds its workers' memory (a memory controller counts them).
  bool kernel_caps_memory() { return status_of_a_pool().find("memory capped by the kernel") != std::string::npos; }
  std::filesystem::path dir_;
};

}  // namespace

TEST_P(Containment, ACommandsBackgroundProcessDiesWithItsTimedOutWorker) {
  const std::string marker = unique_marker();
  const CliRun r = run_cli("run exec -j 1 --timeout 1 --results - --no-summary" + flag() + " a -- sh -c 'sleep " +
                           marker + " & sleep " + marker + "'");
  EXPECT_EQ(r.status, 1) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["status"], "timeout");
  EXPECT_EQ(wait_for_count(marker, 0, std::chrono::seconds(1)), 0) << "a sleep outlived its worker";
}

TEST_P(Containment, WhatATaskLeftBehindIsKilledWhenItEndsWhileThePoolRunsOn) {
  const std::string marker = unique_marker();
  const std::string results = (dir_ / "results").string(), out = (dir_ / "out").string(),
                    err = (dir_ / "err").string();
  // One worker: the fork task leaves an orphaned sleep, then a 3 s task keeps the pool up.
  const pid_t pool = start_background("run misbehave -j 1 --no-summary --plugin " + std::string(TEST_PLUGIN) + flag() +
                                          " --results " + results + " fork:" + marker + " sleep:3000",
                                      out, err);
  for (int i = 0; i < 200 && read_file(results).find("fork:") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_NE(read_file(results).find("\"ok\""), std::string::npos) << read_file(err);
  // Long enough for the orphan's exec to show; the sweep kills it within a millisecond.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(processes_with(marker), 0) << "the orphan of a finished task still runs";
  EXPECT_TRUE(alive(pool)) << "the pool ended before the check could mean anything";
  EXPECT_EQ(wait_status(pool), 0) << read_file(err);
}

TEST_P(Containment, NothingOutlivesASupervisorKilledWithSigkill) {
  const std::string marker = unique_marker();
  const std::string out = (dir_ / "out").string(), err = (dir_ / "err").string();
  const pid_t pool = start_background("run exec -j 2 --no-summary" + flag() + " a b -- sh -c 'sleep " + marker +
                                          " & sleep " + marker + "'",
                                      out, err);
  ASSERT_EQ(wait_for_count(marker, 4, std::chrono::seconds(5)), 4) << read_file(err);
  const auto killed = std::chrono::steady_clock::now();
  kill(pool, SIGKILL);
  EXPECT_EQ(wait_status(pool), 128 + SIGKILL);
  EXPECT_EQ(wait_for_count(marker, 0, std::chrono::seconds(2)), 0) << "a task's process outlived the pool";
  const auto gone_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
  RecordProperty("tree_gone_ms", static_cast<int>(gone_ms.count()));
}

TEST_P(Containment, StatusNamesTheContainment) {
  const std::string expected = GetParam() == "cgroup2"   ? "containment: cgroup v2 ("
                               : GetParam() == "cgroup1" ? "containment: cgroup v1 ("
                                                         : "containment: process groups";
  const std::string text = status_of_a_pool(expected);
  EXPECT_NE(text.find(expected), std::string::npos) << text;
}

// A command that allocates (and touches) MB megabytes, then holds them for a while.
std::string allocating(int mb, double hold_s) {
  return std::string(TEST_PYTHON) + " -c 'import time; b = bytearray(b\"\\x01\") * (" + std::to_string(mb) +
         " << 20); time.sleep(" + std::to_string(hold_s) + ")'";
}

// Where a memory controller counts the workers the kernel stops the allocation at the
// hard limit (the OOM killer takes the command, the largest process); elsewhere the
// polled limit kills the worker a tick after the tree passed it.
TEST_P(Containment, TheHardMemoryLimitCoversWhatTheWorkerRuns) {
  const bool kernel = kernel_caps_memory();
  if (GetParam() != "process-group" && std::filesystem::exists("/sys/fs/cgroup/memory/memory.stat")) {
    EXPECT_TRUE(kernel) << "this machine has a v1 memory controller, which the pool did not use";
  }
  const CliRun r = run_cli("run exec -j 1 --max-attempts 1 --hard-memory-per-child 100M --results - --no-summary" +
                           flag() + " a -- " + allocating(300, 5));
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out << r.err;
  const std::string error = lines[0].value("error", "");
  if (kernel) {
    // v2 kills the whole container; v1 the largest process: the command, or the worker
    // where it is the larger (a sanitizer's worker is): the task is charged either way.
    EXPECT_EQ(error.find("killed by the OOM killer at "), 0u) << lines[0];
    if (lines[0]["status"] == "error") {
      EXPECT_NE(error.find("(hard limit 100 MiB): " + std::string(TEST_PYTHON) + " killed by SIGKILL"),
                std::string::npos) << lines[0];
    } else {
      EXPECT_EQ(lines[0]["status"], "crashed") << lines[0];
    }
  } else {
    EXPECT_EQ(lines[0]["status"], "crashed") << lines[0];
    EXPECT_NE(error.find("over the hard limit of 100 MiB"), std::string::npos) << lines[0];
  }
  EXPECT_EQ(lines[0].value("signal", ""), "SIGKILL") << lines[0];
  EXPECT_LT(lines[0]["run_ms"].get<double>(), 4000) << "killed by the limit, not at the command's end";
}

// A worker that allocates itself past the limit: killed, its task charged with the cause,
// and the next worker runs the rest.
TEST_P(Containment, AWorkerOverTheHardLimitIsKilledAndChargedWithTheCause) {
  const bool kernel = kernel_caps_memory();
  const CliRun r = run_cli("run misbehave -j 1 --max-attempts 1 --hard-memory-per-child 100M --results - --no-summary"
                           " --plugin " + std::string(TEST_PLUGIN) + flag() + " hold:300 ok");
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out << r.err;
  for (const auto& line : lines) {
    if (line["input"] == "ok") {
      EXPECT_EQ(line["status"], "ok") << line;
      continue;
    }
    EXPECT_EQ(line["status"], "crashed") << line;
    EXPECT_EQ(line.value("signal", ""), "SIGKILL") << line;
    const std::string cause = kernel ? "killed by the OOM killer at " : "over the hard limit of 100 MiB";
    EXPECT_NE(line.value("error", "").find(cause), std::string::npos) << line;
  }
}

TEST_P(Containment, MaxRssCountsTheCommandATaskRan) {
  const CliRun r = run_cli("run exec -j 1 --results - --no-summary" + flag() + " a -- " + allocating(80, 0.2));
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out << r.err;
  EXPECT_EQ(lines[0]["status"], "ok") << lines[0];
  EXPECT_GE(lines[0]["max_rss_kb"].get<uint64_t>(), 80u * 1024) << lines[0];
}

// Process groups cannot cap a tree's processes (there is no pids.max): the cgroup paths only.
class ProcessCap : public Containment {};

TEST_P(ProcessCap, AForkBombFailsItsTaskAndNothingElse) {
  const std::string marker = unique_marker();
  const std::string bomb = std::string(TEST_PYTHON) +
                           " -c 'import os, sys, time\nif sys.argv[1] == \"ok\": sys.exit(0)\nfor i in range(300):\n"
                           "    if os.fork() == 0:\n        os.execlp(\"sleep\", \"sleep\", \"" + marker + "\")' {}";
  const CliRun r = run_cli("run exec -j 1 --max-procs-per-child 64 --results - --no-summary" + flag() +
                           " bomb ok -- " + bomb);
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out << r.err;
  for (const auto& line : lines) {
    if (line["input"] == "ok") {
      EXPECT_EQ(line["status"], "ok") << line;
    } else {
      EXPECT_EQ(line["status"], "error") << line;
      EXPECT_NE(line["error"].get<std::string>().find("BlockingIOError"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(wait_for_count(marker, 0, std::chrono::seconds(1)), 0) << "the bomb's processes outlived its task";
}

namespace {
std::string path_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
  return name;
}
}  // namespace
INSTANTIATE_TEST_SUITE_P(EveryPath, Containment, ::testing::Values("cgroup2", "cgroup1", "process-group"), path_name);
INSTANTIATE_TEST_SUITE_P(CgroupPaths, ProcessCap, ::testing::Values("cgroup2", "cgroup1"), path_name);
