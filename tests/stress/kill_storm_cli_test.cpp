// A kill storm from outside through the command line: a random worker SIGKILLed every
// 50 ms (once a task has finished since the last kill) while thousands of 1 ms tasks run. Deaths while tasks keep finishing are not a
// crash loop: the run ends with every task ok exactly once, after more kills than the
// crash-loop limit (20 restarts within 10 s for 2 workers) would have allowed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "tests/test_support.hpp"

using namespace procpool::testing;

TEST(KillStorm, DeathsWhileTasksFinishNeverStopTheRun) {
  const auto dir = fresh_test_dir("kill-storm");
  constexpr int kTasks = 6000;
  {
    std::ofstream inputs(dir / "inputs");
    for (int i = 0; i < kTasks; ++i) inputs << "spin:1000\n";
  }
  const std::string results = (dir / "results").string(), err = (dir / "err").string();
  const pid_t pool = start_background("run misbehave -j 2 --no-summary --plugin " + std::string(TEST_PLUGIN) +
                                          " --input-file " + (dir / "inputs").string() + " --results " + results,
                                      (dir / "out").string(), err);
  std::atomic<bool> done{false};
  int kills = 0;
  std::thread storm([&] {
    std::mt19937 random(42);
    std::size_t results_at_last_kill = 0;
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      // Tasks keep finishing between kills (the case this test is about), however slowly
      // this build starts workers: the next kill waits for a new result.
      const std::size_t now = json_lines(read_file(results)).size();
      if (now == results_at_last_kill) continue;
      const auto workers = children_of(pool);
      if (workers.empty()) continue;
      if (kill(workers[random() % workers.size()], SIGKILL) == 0) {
        ++kills;
        results_at_last_kill = now;
      }
    }
  });
  const int status = wait_status(pool);
  done = true;
  storm.join();
  EXPECT_EQ(status, 0) << read_file(err);
  EXPECT_GT(kills, 20) << "too few kills for the check to mean anything";
  std::set<uint64_t> ids;
  int ok = 0;
  for (const auto& line : json_lines(read_file(results))) {
    EXPECT_TRUE(ids.insert(line["id"].get<uint64_t>()).second) << "a second result for " << line["id"];
    ok += line["status"] == "ok";
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kTasks));
  EXPECT_EQ(ok, kTasks);
}
