// What a run does when tasks fail, through the real binary: --retries reruns a task that
// ended in error (for exec a non-zero exit or a signal) with a growing delay and reports
// its last run; a command killed by a signal is `crashed` with it; --halt stops the run
// as GNU parallel's does, and the exit status says why.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::run_cli;

namespace {

class FailurePolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("procpool-failure-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A command that fails `fails` times, then succeeds: its count is kept in a file.
  std::string flaky(int fails) const {
    const std::string count = (dir_ / "count").string();
    return "sh -c 'n=$(cat " + count + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + count +
           "; echo run $n; [ $n -gt " + std::to_string(fails) + " ]'";
  }
  fs::path dir_;
};

}  // namespace

TEST_F(FailurePolicy, RetriesRerunAFailingTaskAndReportItsLastRun) {
  const auto began = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run exec --retries 3 --results - x -- " + flaky(2));
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<json> results = json_lines(r.out);
  ASSERT_EQ(results.size(), 1u);  // one result, the last run's
  EXPECT_EQ(results[0]["status"], "ok");
  EXPECT_EQ(results[0]["attempts"], 3);
  EXPECT_EQ(results[0]["output"]["stdout"], "run 3\n");
  // Reruns after the default 0.1 s, doubling: 0.1 + 0.2 s at least.
  EXPECT_GE(took, std::chrono::milliseconds(300));
}

TEST_F(FailurePolicy, RetriesRunOutAndTheLastErrorIsTheResult) {
  CliRun r = run_cli("run exec --retries 1 --retry-delay 0 --results - x -- " + flaky(5));
  EXPECT_EQ(r.status, 1);
  std::vector<json> results = json_lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["status"], "error");
  EXPECT_EQ(results[0]["attempts"], 2);
  EXPECT_EQ(results[0]["exit_code"], 1);
  // The printed output is the last run's only.
  fs::remove(dir_ / "count");
  r = run_cli("run exec --no-summary --retries 2 --retry-delay 0 x -- " + flaky(2));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "run 3\n");
  // Without --retries a failure is final.
  fs::remove(dir_ / "count");
  r = run_cli("run exec --results - x -- " + flaky(1));
  EXPECT_EQ(json_lines(r.out).at(0)["attempts"], 1);
  EXPECT_EQ(r.status, 1);
}

TEST_F(FailurePolicy, ACommandKilledByASignalCrashedAndIsRetried) {
  const CliRun r = run_cli("run exec --retries 1 --retry-delay 0 --results - x -- sh -c 'kill -SEGV $$'");
  EXPECT_EQ(r.status, 1);
  const std::vector<json> results = json_lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["status"], "crashed");
  EXPECT_EQ(results[0]["signal"], "SIGSEGV");
  EXPECT_EQ(results[0]["error"], "sh killed by SIGSEGV");
  EXPECT_EQ(results[0]["attempts"], 2);
  EXPECT_NE(r.err.find("restarts: 0"), std::string::npos) << r.err;  // the worker lived on
}

TEST_F(FailurePolicy, HaltNowOnTheFirstFailureKillsTheRestAndExitsWithItsStatus) {
  const auto began = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run exec -j 2 --halt now,fail=1 --results - 0.1 7 30 30 30 30 -- sh -c 'sleep $0; exit 7'");
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.status, 7) << r.err;  // the failing command's own
  EXPECT_LT(took, std::chrono::seconds(10));  // the 30 s sleepers were killed
  EXPECT_NE(r.err.find("procpool: --halt now,fail=1: task 0 (0.1) error; killing the running tasks"),
            std::string::npos)
      << r.err;
  int cancelled = 0;
  for (const json& j : json_lines(r.out)) cancelled += j["status"] == "cancelled";
  EXPECT_EQ(cancelled, 5);
}

TEST_F(FailurePolicy, HaltSoonLetsTheRunningFinishAndSuccessHaltsWithZero) {
  // soon,fail=2: the second failure stops new starts; the 0.5 s task running beside it
  // finishes. (A task a worker had already taken may still run: it fails too.)
  CliRun r = run_cli("run exec -j 2 --halt soon,fail=2 --results - 5 1 1 0 0 0 0 0 0 0 -- "
                     "sh -c 'sleep 0.$0; [ $0 = 5 ]'");
  EXPECT_EQ(r.status, 1) << r.err;
  int ok = 0, error = 0, cancelled = 0;
  for (const json& j : json_lines(r.out)) {
    ok += j["status"] == "ok";
    error += j["status"] == "error";
    cancelled += j["status"] == "cancelled";
  }
  EXPECT_GE(error, 2);
  EXPECT_EQ(ok, 1);  // the 0.5 s one, running when the limit came, was not killed
  EXPECT_EQ(ok + error + cancelled, 10);
  EXPECT_GE(cancelled, 1);
  // success=1: the first ok ends the run, successfully.
  r = run_cli("run exec -j 1 --halt now,success=1 --results - 3 0 5 -- sh -c 'sleep 0.2; exit $0'");
  EXPECT_EQ(r.status, 0) << r.err;
  // 50%: half of the 4 tasks failed after the third.
  r = run_cli("run exec -j 1 -k --no-summary --halt now,fail=50% 1 0 1 0 -- sh -c 'sleep 0.2; echo $0; exit $0'");
  EXPECT_EQ(r.out, "1\n0\n1\n");
  EXPECT_EQ(r.status, 1);
  r = run_cli("run exec --halt soon,fail=0 1 -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--halt must be"), std::string::npos) << r.err;
}
