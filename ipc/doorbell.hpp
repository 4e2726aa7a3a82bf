#pragma once
// The sleeping-flag wake-up protocol (io_uring's SQ_NEED_WAKEUP pattern).
//
// A waiter that found nothing to do announces it will sleep (announce_sleep), issues a
// full fence, re-checks its source of work, and only then blocks. A notifier publishes its
// work, issues a full fence, and asks should_wake(); only if the waiter announced sleep
// does it make the wake-up system call. In a busy pool the flag is never set, so the
// notifier's cost is one fence and one load per batch: no system call per task.
//
// Why both fences must be seq_cst: the waiter does "store flag; load work" and the
// notifier "store work; load flag" (a Dekker pair). Without a full fence on both sides
// each load may be satisfied before the other side's store is visible, and both sides
// conclude the other will act: a lost wake-up. Waits are timed anyway, which bounds the
// damage of any bug here to the timeout.
#include <atomic>
#include <cstdint>

#include "ipc/sanitizers.hpp"

namespace procpool::ipc {

// ThreadSanitizer does not model standalone fences, so sanitizer builds use the
// equivalent read-modify-write form: both sides do a seq_cst RMW on the flag itself,
// which the modification order of the one word puts in a total order (if the notifier's
// RMW comes second it reads 1; if first, the waiter's RMW reads from it and so sees the
// published data). It is not the default because the notifier's RMW would take the
// flag's cache line from the waiter on every publish, where the fence form only reads it.
#if defined(PROCPOOL_TSAN)
#define PROCPOOL_DOORBELL_RMW 1
#endif

struct Doorbell {
  // 1 while the waiter is (about to be) asleep; also the futex word for futex waits.
  std::atomic<uint32_t> sleeping{0};

  // Waiter side, before the final re-check.
  void announce_sleep() {
#ifdef PROCPOOL_DOORBELL_RMW
    sleeping.exchange(1, std::memory_order_seq_cst);
#else
    sleeping.store(1, std::memory_order_relaxed);          // ordered by the fence below
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with notify side's fence
#endif
  }
  // Waiter side, after waking or after the re-check found work.
  void clear() { sleeping.store(0, std::memory_order_relaxed); }

  // Notifier side, after publishing. True for exactly one notifier per sleep (exchange),
  // so several producers do not all make the system call.
  bool should_wake() {
#ifdef PROCPOOL_DOORBELL_RMW
    if (sleeping.fetch_add(0, std::memory_order_seq_cst) == 0) return false;
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with announce_sleep
    if (sleeping.load(std::memory_order_relaxed) == 0) return false;
#endif
    return sleeping.exchange(0, std::memory_order_relaxed) == 1;
  }
};
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be plain words");
static_assert(sizeof(Doorbell) == 4, "a Doorbell is exactly one futex word");

// Futex wait/wake on a word in shared memory (not FUTEX_PRIVATE: other processes wake us).
// Returns when woken, on timeout, on a signal, or at once if *word != expected.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t timeout_ns);
void futex_wake_all(std::atomic<uint32_t>* word);

// Waits on a Doorbell whose waiter already announced sleep and found no work.
inline void doorbell_wait(Doorbell& bell, uint64_t timeout_ns) {
  futex_wait(&bell.sleeping, 1, timeout_ns);
  bell.clear();
}
inline void doorbell_ring(Doorbell& bell) {
  if (bell.should_wake()) futex_wake_all(&bell.sleeping);
}

}  // namespace procpool::ipc
