// The supervisor killed with SIGKILL: its children die with it, its segment is swept by
// the next start, and --resume finishes the job without redoing finished work. Run
// serially (ctest RUN_SERIAL): any other procpool starting meanwhile would sweep the
// stale segment this test looks for.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <thread>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::alive;
using procpool::testing::children_of;
using procpool::testing::run_cli;
using procpool::testing::start_background;
using procpool::testing::wait_status;

namespace {

const std::string kPlugin = std::string("--plugin ") + TEST_PLUGIN + " ";

}  // namespace

TEST(Lifecycle, SupervisorKilledThenResumedFinishesWithoutRedoingWork) {
  const std::string dir = fs::temp_directory_path() / ("pp-resume-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string results_file = dir + "/results.jsonl";
  std::string inputs;
  for (int i = 0; i < 40; ++i) inputs += " sleep:" + std::to_string(50 + i);
  const std::string args = "run misbehave " + kPlugin + "-j 2 --results " + results_file + " --resume" + inputs;
  const pid_t pid = start_background(args, dir + "/out", dir + "/err");
  // Killed once a few results are in (start-up time varies: sanitizer builds are slow).
  const auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto lines_in = [&] {
    const std::string text = procpool::testing::read_file(results_file);
    return std::count(text.begin(), text.end(), '\n');
  };
  while (lines_in() < 4 && std::chrono::steady_clock::now() < ready_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::vector<pid_t> workers = children_of(pid);
  ASSERT_EQ(workers.size(), 2u);
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_status(pid), 128 + SIGKILL);
  // Its children die with it (parent-death signal), within a second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while ((alive(workers[0]) || alive(workers[1])) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(alive(workers[0]));
  EXPECT_FALSE(alive(workers[1]));
  // Its segment is left behind in /dev/shm ...
  const std::string prefix = "procpool-" + std::to_string(getuid()) + "-" + std::to_string(pid) + "-";
  auto stale = [&] {
    for (const auto& e : fs::directory_iterator("/dev/shm"))
      if (e.path().filename().string().rfind(prefix, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(stale());
  const std::size_t done_before = json_lines(procpool::testing::read_file(results_file)).size();
  EXPECT_GT(done_before, 0u);
  EXPECT_LT(done_before, 40u);
  // ... and the same command, run again, removes it and finishes only what was left.
  const CliRun again = run_cli(args);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_FALSE(stale());
  EXPECT_NE(again.err.find("resuming: " + std::to_string(done_before) + " of 40 inputs already ok"), std::string::npos)
      << again.err;
  std::map<std::string, int> ok_count;
  for (const json& j : json_lines(procpool::testing::read_file(results_file)))
    if (j["status"] == "ok") ++ok_count[j["input"].get<std::string>()];
  EXPECT_EQ(ok_count.size(), 40u);
  for (const auto& [input, n] : ok_count) EXPECT_EQ(n, 1) << input << " ran more than once";
  struct stat st{};
  ASSERT_EQ(stat(results_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "results are the owner's only";
  fs::remove_all(dir);
}
