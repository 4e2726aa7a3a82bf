// The floor under any round trip between processes on this machine: a futex ping-pong
// between two processes over shared memory, nothing else. Prints "name value" lines for
// scripts/bench/dispatch, beside procpool's own round trips:
//   wakeup_futex_roundtrip_cold_p50_us  both asleep in FUTEX_WAIT after 5 ms idle: two wake-ups
//   wakeup_futex_oneway_cold_p50_us     from the waker's FUTEX_WAKE to the sleeper running
//   wakeup_spin_roundtrip_p50_us        both spinning (no sleep): the cache-line transfer
//   wakeup_bench [ROUNDS]   (default 300)
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "ipc/clock.hpp"

using procpool::ipc::monotonic_ns;

namespace {

// The shared page. ping and pong are the futex words (a sequence number each); woke_ns
// is when the child saw the latest ping.
struct Shared {
  alignas(64) std::atomic<uint32_t> ping{0};
  alignas(64) std::atomic<uint32_t> pong{0};
  alignas(64) std::atomic<uint64_t> woke_ns{0};
  std::atomic<uint32_t> spin{0};  // 1: neither side sleeps
};

void wait_for(std::atomic<uint32_t>& word, uint32_t old, bool spin) {
  // Acquire: what the other side wrote before its release store is visible after.
  while (word.load(std::memory_order_acquire) == old) {
    if (!spin) syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, old, nullptr, nullptr, 0);
  }
}

void wake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

[[noreturn]] void child(Shared& s) {
  for (uint32_t seen = 0;;) {
    wait_for(s.ping, seen, s.spin.load(std::memory_order_relaxed) != 0);
    s.woke_ns.store(monotonic_ns(), std::memory_order_relaxed);
    seen = s.ping.load(std::memory_order_acquire);
    if (seen == UINT32_MAX) _exit(0);
    s.pong.store(seen, std::memory_order_release);
    wake(s.pong);
  }
}

double p50_us(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[v.size() / 2]) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 1;
  Shared& s = *new (page) Shared;
  const pid_t pid = fork();
  if (pid == 0) child(s);
  uint32_t seq = 0;
  std::vector<uint64_t> cold_rtt, cold_oneway, spin_rtt;
  auto round = [&](std::vector<uint64_t>& rtt, std::vector<uint64_t>* oneway, bool spin) {
    const uint64_t t0 = monotonic_ns();
    s.ping.store(++seq, std::memory_order_release);
    wake(s.ping);
    wait_for(s.pong, seq - 1, spin);
    const uint64_t t1 = monotonic_ns();
    rtt.push_back(t1 - t0);
    if (oneway != nullptr) oneway->push_back(s.woke_ns.load(std::memory_order_relaxed) - t0);
  };
  for (int i = 0; i < rounds; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // both asleep, as an idle pool
    round(cold_rtt, &cold_oneway, false);
  }
  s.spin.store(1, std::memory_order_relaxed);
  round(spin_rtt, nullptr, false);  // the child leaves its futex and spins from now on
  spin_rtt.clear();
  for (int i = 0; i < 20 * rounds; ++i) round(spin_rtt, nullptr, true);
  s.ping.store(UINT32_MAX, std::memory_order_release);
  wake(s.ping);
  waitpid(pid, nullptr, 0);
  std::printf("wakeup_futex_roundtrip_cold_p50_us %.1f\n", p50_us(cold_rtt));
  std::printf("wakeup_futex_oneway_cold_p50_us %.1f\n", p50_us(cold_oneway));
  std::printf("wakeup_spin_roundtrip_p50_us %.2f\n", p50_us(spin_rtt));
  return 0;
}
