#pragma once
// A slot's control block: the words the supervisor and the slot's current child share
// beside the rings. Every field has one writer; each accessor below is the only way to
// touch its field, carries the memory order, and names the access it pairs with.
//
// Invariants:
//  - The supervisor writes the slot only while no child maps it (prepare(), before the
//    spawn), plus stop and retire flags and revocation (below); the child writes
//    everything else.
//  - After the child is reaped, its last stores are visible to the supervisor (the reap
//    orders them); live readers (task timeout, `procpool status`) may see values a task
//    old, never a torn one: every field is one lock-free atomic word.
//  - tasks_taken counts the task records the child took off its FIFO ring this
//    generation, so after a crash the first tasks_taken tasks sent are the ones it had
//    started.
//  - Revocation: the supervisor may take back the tasks queued in the ring that the child
//    has not started. Both sides change one word, tasks_taken, by compare-and-swap: the
//    child claims a task by taken -> taken + 1, the supervisor revokes by taken ->
//    taken | kRevoked. Exactly one wins for each task, so a task is either started by the
//    child or revoked, never both. Revoked are the records sent with a sequence number of
//    at least the taken count the supervisor's CAS saw; the supervisor has published them
//    all before it revokes and writes no record to the ring until the child, having
//    dropped every task record it finds there (other records are handled as ever),
//    clears the bit. The next task the supervisor sends has that taken count as its
//    sequence number. A revoke that took nothing (the child claimed the last task
//    between the supervisor's look and its CAS) is withdrawn by the supervisor.
#include <atomic>
#include <cstdint>
#include <optional>
#include <sys/types.h>

#include "ipc/ring.hpp"

namespace procpool::ipc {

// The one state a slot shows across processes: the child's word on where it is, and
// Retired, the supervisor's when a shrunk pool's child has left the slot. (Whether it is
// busy is running(); the supervisor's own bookkeeping of a slot is engine/ business.)
enum class ChildState : uint32_t { Empty = 0, Starting = 1, Ready = 2, Exiting = 3, Retired = 4 };
// "empty", "starting", "ready", "exiting", "retired" (`procpool status`).
const char* child_state_name(ChildState s);

// The task a child is running (of a child running many at once: the oldest).
struct RunningTask {
  uint64_t task_id;
  uint64_t started_ns;  // CLOCK_MONOTONIC; this task's start or, read live, a later task's
};

class alignas(kCacheLine) SlotControl {
 public:
  // --- Supervisor, before it spawns the slot's next child (nobody maps the slot then).
  // The generation is stored last, with release: pairs with owned_by()'s acquire, so a
  // child that finds its generation finds the rest of the slot reset.
  void prepare(uint64_t generation, uint32_t restarts) {
    current_task_.store(0, std::memory_order_relaxed);
    current_started_ns_.store(0, std::memory_order_relaxed);
    stop_requested_.store(0, std::memory_order_relaxed);
    state_.store(static_cast<uint32_t>(ChildState::Empty), std::memory_order_relaxed);
    pid_.store(0, std::memory_order_relaxed);
    tasks_taken_.store(0, std::memory_order_relaxed);
    restarts_.store(restarts, std::memory_order_relaxed);
    generation_.store(generation, std::memory_order_release);
  }
  // Revokes every task the child has not claimed; returns how many it has claimed (the
  // tasks sent with that sequence number or later are revoked). Acq_rel: acquire pairs
  // with claim_task()'s release (the count is the child's last word), release orders
  // the ring's publication before it. Call only when revoking() is false.
  uint64_t revoke() {
    uint64_t v = tasks_taken_.load(std::memory_order_relaxed);
    while (!tasks_taken_.compare_exchange_weak(v, v | kRevoked, std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    return v & ~kRevoked;
  }
  // The revoke took nothing (revoke() returned the count of tasks sent: the child had
  // claimed them all): the supervisor clears the flag itself, as the child, finding no
  // record to claim, never would. Safe: with no unclaimed record the child never writes
  // the word. Release: as end_revocation().
  void withdraw_revocation(uint64_t taken) { tasks_taken_.store(taken, std::memory_order_release); }
  // True until the child has dropped the revoked records. Acquire: pairs with end_revocation().
  bool revoking() const { return (tasks_taken_.load(std::memory_order_acquire) & kRevoked) != 0; }
  // Finish the queued work and exit. Release: pairs with stop_requested()'s acquire, so
  // the child that sees it also sees the ring writes made before it.
  void request_stop() { stop_requested_.store(1, std::memory_order_release); }
  // A shrunk pool's child left the slot for good. Relaxed: only `status` reads it.
  void retire() { state_.store(static_cast<uint32_t>(ChildState::Retired), std::memory_order_relaxed); }

  // --- Child.
  // Acquire: pairs with prepare(). False when a newer child owns the slot.
  bool owned_by(uint64_t generation) const { return generation_.load(std::memory_order_acquire) == generation; }
  // Relaxed: read by `status` only, as a label.
  void announce(pid_t pid) { pid_.store(static_cast<uint32_t>(pid), std::memory_order_relaxed); }
  // Release: pairs with state()'s acquire in `status`.
  void set_state(ChildState s) { state_.store(static_cast<uint32_t>(s), std::memory_order_release); }
  // Acquire: pairs with request_stop().
  bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire) != 0; }
  // Before the task whose sequence number is `taken` starts: true if the child may run
  // it, false if the supervisor revoked the queue (drop the task records in the ring,
  // then end_revocation()). Release on success: pairs with tasks_taken()'s and revoke()'s
  // acquire, live (status) and after a crash (which tasks to charge). The failure needs
  // no order: the records to drop arrive through the ring's own publication.
  bool claim_task(uint64_t taken) {
    uint64_t expected = taken;
    return tasks_taken_.compare_exchange_strong(expected, taken + 1, std::memory_order_release,
                                                std::memory_order_relaxed);
  }
  // The revoked records are off the ring. Release: pairs with revoking()'s acquire.
  void end_revocation(uint64_t taken) { tasks_taken_.store(taken, std::memory_order_release); }
  // The start time first (relaxed), then the id (release): pairs with running()'s
  // acquire, so a reader of the id sees this start time or a later task's, never an
  // earlier one: a torn read makes a task look younger, never old enough to kill early.
  void show_running(uint64_t task_id, uint64_t started_ns) {
    current_started_ns_.store(started_ns, std::memory_order_relaxed);
    current_task_.store(task_id + 1, std::memory_order_release);
  }
  // Release: pairs with running(), which then reports nothing running.
  void show_idle() { current_task_.store(0, std::memory_order_release); }
  // Relaxed: counters for `status`, each standing alone.
  void count_finished(uint64_t busy_ns) {
    tasks_done_.fetch_add(1, std::memory_order_relaxed);
    busy_ns_.fetch_add(busy_ns, std::memory_order_relaxed);
  }

  // --- Readers: the supervisor (live, or after the reap), `status` (read-only mapping).
  std::optional<RunningTask> running() const {
    const uint64_t id = current_task_.load(std::memory_order_acquire);
    if (id == 0) return std::nullopt;
    return RunningTask{id - 1, current_started_ns_.load(std::memory_order_relaxed)};
  }
  uint64_t tasks_taken() const { return tasks_taken_.load(std::memory_order_acquire) & ~kRevoked; }
  ChildState state() const { return static_cast<ChildState>(state_.load(std::memory_order_acquire)); }
  // Relaxed: labels and counters, no data hangs on them.
  uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }
  pid_t pid() const { return static_cast<pid_t>(pid_.load(std::memory_order_relaxed)); }
  uint64_t tasks_done() const { return tasks_done_.load(std::memory_order_relaxed); }
  uint64_t busy_ns() const { return busy_ns_.load(std::memory_order_relaxed); }
  uint32_t restarts() const { return restarts_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint64_t kRevoked = uint64_t{1} << 63;  // in tasks_taken_: see revoke()
  std::atomic<uint64_t> generation_;          // supervisor: children that occupied the slot
  std::atomic<uint32_t> pid_;                 // child, at start
  std::atomic<uint32_t> state_;               // child (Retired: supervisor): ChildState
  std::atomic<uint64_t> current_task_;        // child: id + 1 of the running task, 0 for none
  std::atomic<uint64_t> current_started_ns_;  // child, with current_task_
  std::atomic<uint64_t> tasks_done_;          // child, after each result
  std::atomic<uint64_t> busy_ns_;             // child, after each result
  std::atomic<uint32_t> stop_requested_;      // supervisor
  std::atomic<uint32_t> restarts_;            // supervisor: replacements of this slot's worker
  std::atomic<uint64_t> tasks_taken_;         // child, before each task; supervisor: kRevoked
};
static_assert(sizeof(SlotControl) == kCacheLine);
static_assert(std::is_standard_layout_v<SlotControl>, "mapped by processes built separately");
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free,
              "an emulated atomic is not safe between processes");

}  // namespace procpool::ipc
