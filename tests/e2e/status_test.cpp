// `procpool status` against a real running pool: its workers, their tasks and the totals,
// as text, JSON and Prometheus metrics, read from the pool's segment.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::run_cli;

using procpool::testing::pool_status_when;

TEST(Status, ShowsARunningPoolsWorkersTasksAndTotals) {
  const fs::path dir = procpool::testing::fresh_test_dir("status");
  const pid_t run = procpool::testing::start_background("run sleep -j 2 --no-summary 600 600 600 600 600 600",
                                                         (dir / "out").string(), (dir / "err").string());
  const json s = pool_status_when(run, [](const json& j) { return j["running"] == 2; });
  ASSERT_EQ(s["running"], 2) << s.dump();
  EXPECT_EQ(s["pid"], run);
  EXPECT_EQ(s["submitted"], 6);
  ASSERT_EQ(s["workers"].size(), 2u);
  auto children = procpool::testing::children_of(run);
  std::sort(children.begin(), children.end());
  std::vector<pid_t> shown;
  for (const json& w : s["workers"]) {
    EXPECT_EQ(w["state"], "busy");
    // Both 600 ms tasks have started, and none has ended yet (running counts them).
    EXPECT_GT(w["running_ms"].get<double>(), 0.0) << w.dump();
    EXPECT_LT(w["running_ms"].get<double>(), 600.0 + 100) << w.dump();
    EXPECT_GT(w["rss_bytes"].get<uint64_t>(), 0u);
    EXPECT_EQ(w["generation"], 1);
    shown.push_back(w["pid"].get<pid_t>());
  }
  std::sort(shown.begin(), shown.end());
  EXPECT_EQ(shown, children);
  // The same as text and as Prometheus metrics.
  CliRun text = run_cli("status --pid " + std::to_string(run));
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("procpool " + std::to_string(run) + ": 2 workers"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("busy"), std::string::npos) << text.out;
  CliRun prom = run_cli("status --prometheus --pid " + std::to_string(run));
  EXPECT_EQ(prom.status, 0);
  EXPECT_NE(prom.out.find("# TYPE procpool_tasks_done_total counter"), std::string::npos) << prom.out;
  EXPECT_NE(prom.out.find("procpool_tasks_submitted_total{pool=\"" + std::to_string(run) + "\"} 6"), std::string::npos);
  EXPECT_NE(prom.out.find("procpool_worker_rss_bytes{pool=\"" + std::to_string(run) + "\",slot=\"1\"}"), std::string::npos);
  // Every task counted once it ends; then the pool is gone and status says so.
  const json later = pool_status_when(run, [](const json& j) { return j["done"]["ok"] == 4; });
  EXPECT_EQ(later["done"]["ok"], 4) << later.dump();
  EXPECT_GT(later["rate_per_s"].get<double>(), 0.0) << later.dump();
  EXPECT_EQ(procpool::testing::wait_status(run), 0);
  const CliRun gone = run_cli("status --pid " + std::to_string(run));
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("no running procpool with pid"), std::string::npos) << gone.err;
  // JSON keeps its shape with nothing to show: an empty list (exit 1: that pool is gone).
  const CliRun gone_json = run_cli("status --json --pid " + std::to_string(run));
  EXPECT_EQ(gone_json.status, 1);
  EXPECT_EQ(gone_json.out, "[]\n");
  fs::remove_all(dir);
}

// Without --pid, JSON is a list of whatever pools run (other tests' too), never an error.
TEST(Status, JsonIsAlwaysAListAndNoPoolIsNoError) {
  const CliRun r = run_cli("status --json");
  EXPECT_EQ(r.status, 0) << r.err;
  const json pools = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(pools.is_array()) << r.out;
  for (const json& p : pools) EXPECT_TRUE(p.contains("workers")) << p.dump();
}

TEST(Status, CountsWorkerRestarts) {
  const fs::path dir = procpool::testing::fresh_test_dir("status");
  const pid_t run = procpool::testing::start_background(
      "run misbehave --plugin " + std::string(TEST_PLUGIN) + " -j 1 --max-attempts 1 --no-summary segv sleep:2000",
      (dir / "out").string(), (dir / "err").string());
  const json s = pool_status_when(run, [](const json& j) { return j["restarts"] == 1 && j["running"] == 1; });
  EXPECT_EQ(s["restarts"], 1) << s.dump();
  EXPECT_EQ(s["done"]["crashed"], 1);
  EXPECT_EQ(s["workers"][0]["generation"], 2);
  EXPECT_EQ(s["workers"][0]["restarts"], 1);
  kill(run, SIGKILL);
  procpool::testing::wait_status(run);
  fs::remove_all(dir);
}
