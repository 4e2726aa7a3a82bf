// Recovery: how long from a child's death to its replacement being ready, and how much
// throughput a storm of kills costs.  recovery_bench PROCPOOL_EXE TEST_PLUGIN
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "ipc/clock.hpp"
#include "supervisor/engine/supervisor.hpp"
#include "tests/test_support.hpp"

using namespace procpool::supervisor;
using procpool::ipc::monotonic_ns;

namespace {

struct Count final : PoolEvents {
  uint64_t ok = 0, other = 0;
  std::function<void()> tick;
  void on_result(const Completion& c) override { (c.status == procpool::ipc::Status::ok ? ok : other)++; }
  void on_tick() override {
    if (tick) tick();
  }
};

PoolOptions base(const char* exe, const char* plugin) {
  PoolOptions o;
  o.workers = 2;
  o.child_exe = exe;
  o.plugins = {plugin};
  o.max_attempts = 100;
  o.max_restarts = 1'000'000;
  o.backoff_initial_ns = 0;  // measure the respawn itself, not a deliberate backoff
  return o;
}

double pct(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100 * v.size()))]) / 1e6;
}

double storm_rate(const char* exe, const char* plugin, bool kills) {
  constexpr int kTasks = 100'000;
  Supervisor pool(base(exe, plugin), {{"misbehave", ""}});
  Count warm;
  pool.submit(0, "warm");
  pool.run(warm);
  std::atomic<bool> done{false};
  std::thread storm([&] {
    std::mt19937 rng(7);
    while (kills && !done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto children = procpool::testing::children_of(getpid());
      if (!children.empty()) kill(children[rng() % children.size()], SIGKILL);
    }
  });
  Count count;
  const uint64_t t0 = monotonic_ns();
  for (int i = 0; i < kTasks; ++i) pool.submit(0, "spin:20");
  pool.run(count);
  const double secs = static_cast<double>(monotonic_ns() - t0) / 1e9;
  done = true;
  storm.join();
  if (count.ok != kTasks) std::fprintf(stderr, "recovery_bench: only %llu of %d ok\n", (unsigned long long)count.ok, kTasks);
  return kTasks / secs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: recovery_bench PROCPOOL_EXE TEST_PLUGIN\n");
    return 2;
  }
  {
    Supervisor pool(base(argv[1], argv[2]), {{"misbehave", ""}});
    for (int i = 0; i < 60; ++i) pool.submit(0, "sleep:100");
    Count count;
    count.tick = [&] {
      const pid_t victim = pool.worker_stats()[0].pid;
      if (victim > 0) kill(victim, SIGKILL);
    };
    pool.run(count);
    const auto& lat = pool.respawn_latencies_ns();
    std::printf("respawn_samples %zu\n", lat.size());
    std::printf("respawn_to_ready_p50_ms %.2f\n", pct(lat, 50));
    std::printf("respawn_to_ready_p95_ms %.2f\n", pct(lat, 95));
  }
  const double calm = storm_rate(argv[1], argv[2], false);
  const double storm = storm_rate(argv[1], argv[2], true);
  std::printf("storm_tasks_per_s_without_kills %.0f\n", calm);
  std::printf("storm_tasks_per_s_with_kill_every_50ms %.0f\n", storm);
  std::printf("storm_throughput_ratio %.2f\n", storm / calm);
  return 0;
}
