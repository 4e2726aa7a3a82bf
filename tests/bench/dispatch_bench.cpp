// Dispatch through a real pool: no-op tasks per second, and submit-to-result round trips.
// Prints "name value unit" lines for scripts/bench/dispatch to compare with Python's pools.
//   dispatch_bench PROCPOOL_EXE [TASKS] [WORKERS]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.hpp"
#include "procpool/pool.hpp"
#include "supervisor/engine/supervisor.hpp"

using namespace procpool::supervisor;
using procpool::ipc::monotonic_ns;

// A typed no-op: what a typed map of cheap work costs per input; and a second shape,
// strings in and their lengths out (as Python's pool.map(len, words) beside it).
PROCPOOL_TASK(identity, [](const uint64_t& x) { return x; });
PROCPOOL_TASK(length, [](const std::string& s) { return static_cast<uint64_t>(s.size()); });

namespace {

struct Count final : PoolEvents {
  uint64_t ok = 0, other = 0, last_ns = 0, queued_ns = 0;
  void on_result(const Completion& c) override {
    (c.status == procpool::ipc::Status::ok ? ok : other)++;
    last_ns = monotonic_ns();
    queued_ns = c.queued_ns;
  }
};

uint64_t pct(std::vector<uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * v.size()))];
}

}  // namespace

// The C++ API (procpool::Pool), whose workers are this program in child mode.
void api_figures(uint64_t tasks, unsigned workers) {
  procpool::Options options;
  options.workers = workers;
  procpool::Pool pool(options);
  pool.apply("noop", std::string());
  // Three rounds: the first also pays for the memory its 500k futures first touch; the
  // figure is the median, the first printed beside it.
  const uint64_t n_submit = std::min<uint64_t>(tasks, 500'000);
  std::vector<double> rates;
  for (int round = 0; round < 3; ++round) {
    const uint64_t start = monotonic_ns();
    std::vector<procpool::TaskFuture> futures;
    futures.reserve(n_submit);
    for (uint64_t i = 0; i < n_submit; ++i) futures.push_back(pool.submit("noop", std::string()));
    for (auto& f : futures) f.wait();
    rates.push_back(n_submit / (static_cast<double>(monotonic_ns() - start) / 1e9));
  }
  std::printf("api_submit_futures_first_round_tasks_per_s %.0f\n", rates[0]);
  std::sort(rates.begin(), rates.end());
  std::printf("api_submit_futures_tasks_per_s %.0f\n", rates[1]);
  uint64_t t0 = 0;  // each figure below sets it
  const std::vector<std::string> inputs(tasks);
  t0 = monotonic_ns();
  const auto results = pool.map("noop", inputs, 1024);
  std::printf("api_map_chunk1024_tasks_per_s %.0f\n", tasks / (static_cast<double>(monotonic_ns() - t0) / 1e9));
  std::vector<uint64_t> numbers(tasks);
  for (uint64_t i = 0; i < tasks; ++i) numbers[i] = i;
  t0 = monotonic_ns();
  const std::vector<uint64_t> echoed = pool.map(identity, numbers);
  std::printf("api_typed_map_tasks_per_s %.0f\n", tasks / (static_cast<double>(monotonic_ns() - t0) / 1e9));
  if (echoed != numbers) {
    std::fprintf(stderr, "dispatch_bench: the typed map gave wrong outputs\n");
    std::exit(1);
  }
  std::vector<std::string> words;
  words.reserve(tasks);
  for (uint64_t i = 0; i < tasks; ++i) {
    char word[32];
    std::snprintf(word, sizeof word, "word-%012llu", static_cast<unsigned long long>(i));
    words.emplace_back(word);
  }
  t0 = monotonic_ns();
  const std::vector<uint64_t> lengths = pool.map(length, words);
  std::printf("api_typed_map_strings_tasks_per_s %.0f\n", tasks / (static_cast<double>(monotonic_ns() - t0) / 1e9));
  if (lengths.size() != tasks || (tasks != 0 && lengths.back() != 17)) {
    std::fprintf(stderr, "dispatch_bench: the typed map of strings gave wrong outputs\n");
    std::exit(1);
  }
  // A second shape for submit with a future each: typed, strings in, lengths out.
  std::vector<double> typed_rates;
  for (int round = 0; round < 3; ++round) {
    const uint64_t start = monotonic_ns();
    std::vector<procpool::Future<uint64_t>> futures;
    futures.reserve(n_submit);
    for (uint64_t i = 0; i < n_submit; ++i) futures.push_back(pool.submit(length, words[i]));
    uint64_t total = 0;
    for (auto& f : futures) total += f.get();
    typed_rates.push_back(n_submit / (static_cast<double>(monotonic_ns() - start) / 1e9));
    if (total != 17 * n_submit) {
      std::fprintf(stderr, "dispatch_bench: typed submits of strings gave wrong outputs\n");
      std::exit(1);
    }
  }
  std::sort(typed_rates.begin(), typed_rates.end());
  std::printf("api_submit_typed_strings_tasks_per_s %.0f\n", typed_rates[1]);
  std::vector<uint64_t> rtt;
  for (int i = 0; i < 5000; ++i) {
    const uint64_t t = monotonic_ns();
    pool.submit("noop", std::string()).get();
    rtt.push_back(monotonic_ns() - t);
  }
  std::printf("api_future_roundtrip_warm_p50_us %.1f\n", pct(rtt, 50) / 1e3);
  std::printf("api_future_roundtrip_warm_p99_us %.1f\n", pct(rtt, 99) / 1e3);
  rtt.clear();
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t t = monotonic_ns();
    pool.submit("noop", std::string()).get();
    rtt.push_back(monotonic_ns() - t);
  }
  std::printf("api_future_roundtrip_cold_p50_us %.1f\n", pct(rtt, 50) / 1e3);
  std::printf("api_future_roundtrip_cold_p99_us %.1f\n", pct(rtt, 99) / 1e3);
}

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: dispatch_bench PROCPOOL_EXE [TASKS] [WORKERS]\n");
    return 2;
  }
  const uint64_t tasks = argc > 2 ? std::stoull(argv[2]) : 2'000'000;
  PoolOptions options;
  options.child_exe = argv[1];
  options.workers = argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 0;
  Supervisor pool(options, {{"noop", ""}});
  Count count;
  pool.submit(0, "");
  pool.run(count);  // the children are up and ready from here on

  // Throughput: every task submitted up front, as Pool.map does; submission counts.
  const uint64_t t0 = monotonic_ns();
  for (uint64_t i = 0; i < tasks; ++i) pool.submit(0, "");
  pool.run(count);
  const double secs = static_cast<double>(monotonic_ns() - t0) / 1e9;
  if (count.other != 0) {
    std::fprintf(stderr, "dispatch_bench: %llu tasks did not succeed\n", static_cast<unsigned long long>(count.other));
    return 1;
  }
  std::printf("procpool_unchunked_tasks_per_s %.0f\n", static_cast<double>(tasks) / secs);

  // Round trip, warm: submit one, wait for its result, repeat.
  std::vector<uint64_t> warm, cold;
  for (int i = 0; i < 20000; ++i) {
    pool.submit(0, "");
    pool.run(count);
    warm.push_back(count.last_ns - count.queued_ns);
  }
  // Round trip, cold: the pool has been idle for 5 ms, so every process is asleep.
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool.submit(0, "");
    pool.run(count);
    cold.push_back(count.last_ns - count.queued_ns);
  }
  std::printf("procpool_roundtrip_warm_p50_us %.1f\n", pct(warm, 50) / 1e3);
  std::printf("procpool_roundtrip_warm_p99_us %.1f\n", pct(warm, 99) / 1e3);
  std::printf("procpool_roundtrip_cold_p50_us %.1f\n", pct(cold, 50) / 1e3);
  std::printf("procpool_roundtrip_cold_p99_us %.1f\n", pct(cold, 99) / 1e3);
  pool.shutdown();
  api_figures(tasks, options.workers);
  return 0;
}
