// The pool's default size under a CPU quota, end to end: procpool started inside a real
// cgroup whose quota is 0.5 and then 1.5 CPUs starts 1 and then 2 workers (rounded up;
// this machine has 2 cores). Run in each hierarchy here that has a cpu controller: cgroup
// v1's (cpu.cfs_quota_us) and v2's (cpu.max); the parsing of both is unit-tested in
// tests/unit/usable_cores_test.cpp.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tests/ci_skip.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using procpool::testing::CliRun;
using procpool::testing::read_file;
using procpool::testing::run_cli;

namespace {

struct Hierarchy {
  std::string name;  // "cgroup1" or "cgroup2"
  fs::path mount;    // where its cpu controller can be used
};

// The hierarchies with a cpu controller this test may write, from /proc/mounts (the root
// of each, as root sees it outside any container).
std::vector<Hierarchy> cpu_hierarchies() {
  std::vector<Hierarchy> out;
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream in(line);
    std::string source, point, type, options;
    in >> source >> point >> type >> options;
    if (type == "cgroup" && ("," + options + ",").find(",cpu,") != std::string::npos &&
        access((point + "/cgroup.procs").c_str(), W_OK) == 0)
      out.push_back({"cgroup1", point});
    if (type == "cgroup2" && (" " + read_file(point + "/cgroup.controllers")).find(" cpu") != std::string::npos &&
        access((point + "/cgroup.procs").c_str(), W_OK) == 0)
      out.push_back({"cgroup2", point});
  }
  return out;
}

// How many workers the summary of `procpool run` lists ("workers: #0 ... #1 ...").
int workers_listed(const std::string& summary) {
  const auto at = summary.find("workers: ");
  if (at == std::string::npos) return -1;
  const std::string line = summary.substr(at, summary.find('\n', at) - at);
  int n = 0;
  for (std::size_t p = line.find(" #"); p != std::string::npos; p = line.find(" #", p + 1)) ++n;
  return n;
}

class CpuQuota : public ::testing::Test {
 protected:
  void TearDown() override { remove_cgroup(); }
  // The cgroup, once the last of the pool's processes has left it: procpool has exited,
  // and its workers follow it within milliseconds (their leaving is the kernel's).
  void remove_cgroup() {
    if (dir_.empty()) return;
    std::error_code error;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!fs::remove(dir_, error) && error && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(fs::exists(dir_)) << "still in it after 5 s: " << read_file((dir_ / "cgroup.procs").string());
    dir_.clear();
  }
  // A cgroup of the hierarchy limited to `cpus`, with procpool run inside it.
  int workers_under(const Hierarchy& h, double cpus) {
    remove_cgroup();
    dir_ = h.mount / ("procpool-quota-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const long quota = static_cast<long>(cpus * 100000);
    if (h.name == "cgroup1") {
      std::ofstream(dir_ / "cpu.cfs_period_us") << "100000\n";
      std::ofstream(dir_ / "cpu.cfs_quota_us") << quota << "\n";
    } else {
      std::ofstream(h.mount / "cgroup.subtree_control") << "+cpu\n";
      std::ofstream(dir_ / "cpu.max") << quota << " 100000\n";
    }
    // The shell moves itself into the cgroup, then becomes procpool (run_cli's command
    // is PROCPOOL_EXE ARGS, run by /bin/sh: this puts the move before it).
    const CliRun r = run_cli("--version >/dev/null; echo $$ > " + (dir_ / "cgroup.procs").string() + " && exec " +
                             std::string(PROCPOOL_EXE) + " run noop x y z");
    EXPECT_EQ(r.status, 0) << r.err;
    return workers_listed(r.err);
  }
  fs::path dir_;
};

}  // namespace

TEST_F(CpuQuota, HalfACpuGivesOneWorkerAndOneAndAHalfGiveTwo) {
  const std::vector<Hierarchy> hierarchies = cpu_hierarchies();
  if (hierarchies.empty()) PROCPOOL_SKIP_OUTSIDE_CI("no cgroup hierarchy with a cpu controller to write here");
  ASSERT_GE(sysconf(_SC_NPROCESSORS_ONLN), 2) << "the test needs 2 cores to see a quota of 1.5 round up";
  for (const Hierarchy& h : hierarchies) {
    EXPECT_EQ(workers_under(h, 0.5), 1) << h.name;
    EXPECT_EQ(workers_under(h, 1.5), 2) << h.name << ": rounded up, as a user of 1.5 CPUs expects";
    std::printf("%s: quota 0.5 -> 1 worker, 1.5 -> 2 at %s\n", h.name.c_str(), h.mount.c_str());
  }
}
