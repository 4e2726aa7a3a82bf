// Google Benchmark of one SPSC ring between two processes: a producer process writes
// records of a given size as fast as the ring takes them; the benchmark loop consumes.
//   ring_bench [--benchmark_* flags]
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <string>

#include "ipc/segment.hpp"

extern char** environ;
using namespace procpool::ipc;

namespace {

constexpr uint64_t kRingBytes = 1 << 20;

[[noreturn]] void producer(const char* name, std::size_t size) {
  auto seg = Segment::attach(name);
  SlotView slot = seg->slot(0);
  RingProducer ring(slot.to_child, slot.to_child_data, slot.ring_capacity);
  std::string payload(size, 'p');
  for (uint64_t n = 0;; ++n) {
    std::memcpy(payload.data(), &n, std::min(size, sizeof n));
    while (!ring.try_write(payload.data(), payload.size())) {
      ring.publish();
      ring.wait_for_space(10'000'000);
    }
    if ((n & 31) == 31) ring.publish();  // batches, as the supervisor publishes
  }
}

void BM_RingAcrossProcesses(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto seg = Segment::create(1, kRingBytes);
  SlotView slot = seg->slot(0);
  RingConsumer ring(slot.to_child, slot.to_child_data, slot.ring_capacity);
  std::string size_s = std::to_string(size), name = seg->name();
  char* argv[] = {const_cast<char*>("ring_bench"), const_cast<char*>("--producer"), name.data(), size_s.data(),
                  nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0) {
    state.SkipWithError("cannot start the producer process");
    return;
  }
  uint64_t count = 0, sum = 0;
  std::string_view rec;
  for (auto _ : state) {
    RingConsumer::Read r;
    while ((r = ring.peek(&rec)) == RingConsumer::Read::Empty) {
      ring.release();
    }
    if (r == RingConsumer::Read::Corrupt) {
      state.SkipWithError("corrupt record");
      break;
    }
    sum += static_cast<uint8_t>(rec[0]);
    ring.pop();
    if ((++count & 31) == 0) ring.release();
  }
  benchmark::DoNotOptimize(sum);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_RingAcrossProcesses)->Arg(16)->Arg(64)->Arg(256)->Arg(4096)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--producer") == 0) producer(argv[2], std::stoul(argv[3]));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
