#pragma once
// The supervisor's private state, shared by loop.cpp (the event loop, signals,
// timers), children.cpp (spawn, exits, recovery) and dispatch.cpp (scheduler
// and collector). Single-threaded: only the loop's thread touches any of it.
#include <deque>
#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ipc/ring.hpp"
#include "ipc/segment.hpp"
#include "supervisor/engine/containment.hpp"
#include "supervisor/engine/supervisor.hpp"
#include "supervisor/engine/spawn.hpp"

namespace procpool::supervisor {

// What an epoll event of the supervisor loop is about (its data.u64): the loop's own fds
// by their number (below 2^32), a child's pidfd by kPidfdTag | slot index, the remote
// intake's eventfd by kRemoteTag.
constexpr uint64_t kPidfdTag = 1ull << 32;
constexpr uint64_t kRemoteTag = 1ull << 33;

struct TaskEntry {
  std::string input;
  uint64_t queued_ns = 0;
  uint32_t charged = 0;  // runs that ended in a crash of their child
  uint32_t retried = 0;  // runs that ended in error and were run again (PoolOptions::retries)
  uint8_t kind = 0;
  uint16_t flags = 0;  // ipc::kTask* flags, sent with the task
  bool done = false;
  bool sent = false;   // given to a child (cancel() can no longer take it back)
  // It was running beside other tasks when its child crashed: any of them may be the
  // cause, so it runs alone from now on, where a crash is surely its own.
  bool isolate = false;
  // Taken back from the queue of a worker busy with a long task (Impl::rebalance): sent
  // only to a worker that starts it at once, never into a queue again.
  bool revoked = false;
  // One run only: a crash or timeout is its result at once, not retried (a batch the C++
  // API made of many tasks runs each of them again alone instead, see Supervisor::submit).
  bool once = false;
};

// The supervisor's own view of a slot, never shared: the child's word is
// ipc::ChildState, read by `procpool status`; this is what the loop decided.
enum class SlotState { Dead, Starting, Ready, Stopping };

// Why the supervisor killed a child, which decides what its running task's result is.
// Cancel: Supervisor::kill() of its running task (ChildSlot::kill_target).
enum class KillReason { None, Shutdown, Timeout, MemoryHard, Violation, StartTimeout, Cancel };

// A task sent to a child and not yet answered. seq counts the tasks sent to this child
// (generation) before it: the child's tasks_taken says which of them it had started.
struct Inflight {
  uint64_t id = 0;
  uint64_t seq = 0;
};

struct ChildSlot {
  int index = 0;
  uint64_t generation = 0;
  SlotState state = SlotState::Dead;
  std::unique_ptr<ChildProcess> process;
  ipc::RingProducer tasks;
  ipc::RingConsumer results;
  std::deque<Inflight> inflight;       // tasks sent and not yet answered, in send order
  std::vector<uint32_t> concurrency;   // per kind, from the child's Ready record
  std::string fatal_message;           // from a Fatal record
  bool violated = false;               // broke the protocol: killed, ring no longer read
  KillReason kill_reason = KillReason::None;
  std::string kill_detail;             // e.g. "timed out after 2.00 s"
  uint64_t kill_target = 0;            // KillReason::Cancel: the task it was killed to stop
  bool recycling = false;              // told to stop (task or memory limit): replace it
  // Beyond the pool's size since a reconfigure shrank it: gets no tasks; its child is
  // told to stop once ready, finishes what it holds and is not replaced.
  bool retired = false;
  uint64_t config_epoch = 0;           // the kind options its child started with
  uint64_t dispatched = 0;             // tasks sent to this generation
  bool isolating = false;              // holds a task that must run alone (TaskEntry::isolate)
  bool revoking = false;               // its queue was taken back; no writes until the child drops it
  // DefineKind records of kinds added while the pool runs (add_kind) that this child has
  // not been sent yet: written before any further task, so before any task of theirs.
  std::deque<std::string> unsent_definitions;
  int task_wake_fd = -1;               // eventfd waking a child that runs many tasks at once
  uint32_t consecutive_crashes = 0;    // since a child of this slot last finished a task
  uint64_t respawn_at_ns = 0;          // when Dead and waiting out its backoff; 0 if not
  uint64_t progress_ns = 0;            // its last sign of life: ready, or a result
  uint64_t spawned_ns = 0;
  uint64_t died_ns = 0;                // of the predecessor, for respawn latency; 0 if planned
  uint64_t busy_ns = 0;
  uint64_t tasks_done = 0;
  uint32_t restarts = 0;
  uint64_t oom_kills = 0;              // its container's OOM kills already told (Containment::oom_kills)
};

// A ring the supervisor reads: a live child's that kept to the protocol. A violator's ring
// holds the record it was killed for, unread for ever: looking at it would keep the loop
// busy, and the child's death (an epoll event) would never be handled.
inline bool reads_results(const ChildSlot& slot) { return slot.state != SlotState::Dead && !slot.violated; }

struct Supervisor::Impl {
  Impl(PoolOptions options, std::vector<KindSpec> kinds);
  ~Impl();

  // loop.cpp
  RunOutcome run(PoolEvents& events, Remote* remote);
  void wait_for_events(int timeout_ms);
  void handle_signal();
  void drain();  // as a first SIGINT: see Supervisor::halt
  // The live slot whose child holds task id (sent, not answered), and (held) its entry
  // there; null if none.
  ChildSlot* slot_holding(uint64_t id, const Inflight** held = nullptr);
  // Takes task id back from the ring of the child holding it when that child has not
  // started it; true if it is pending again (or was never sent).
  bool take_back(uint64_t id);
  bool retry_after_error(uint64_t id, TaskEntry& task, const Completion& c);
  void on_tick();
  bool all_done() const { return done_count_ == next_id_; }
  TaskEntry& task_entry(uint64_t id) { return tasks_[id - first_id_]; }
  void retire_finished();  // drops finished entries from the front of tasks_

  // children.cpp
  void spawn(ChildSlot& slot);
  void reset_slot(ChildSlot& slot);
  void start_process(ChildSlot& slot);
  std::vector<std::string> child_argv(std::vector<std::string> own) const;
  void handle_exit(ChildSlot& slot);
  void count_restart(ChildSlot& slot);
  void requeue_inflight(ChildSlot& slot, int wait_status);
  bool crash_loop();
  void stop_children_gracefully();
  void kill_all_children();
  void open_loop_fds();
  void release();  // everything the pool holds: children, descriptors, containers
  bool startup_failed(const ChildSlot& slot, int status);
  // SIGKILL to the worker and everything in its container.
  void kill_tree(ChildSlot& slot);
  void reap_orphans();
  void fail_pool(std::string message);
  void recycle(ChildSlot& slot);
  void schedule_respawn(ChildSlot& slot, uint64_t delay_ns);
  void add_slot();
  void apply_limit_defaults();
  void define_kinds();
  uint8_t add_kind(KindSpec spec);
  // Writes the child's unsent definitions to its ring; false while the ring is too full.
  bool send_definitions(ChildSlot& slot);
  // A kind added after the child reported its concurrencies: assumed as its base kind's
  // (same name), else 1. The child enforces the real one; this only sizes its queue.
  uint32_t assumed_concurrency(const ChildSlot& slot, std::size_t kind) const;

  // resize.cpp: reconfigure() -- grow, shrink, replace for new kind options
  void resize(unsigned workers);
  void ask_to_stop(ChildSlot& slot, bool replace);  // Stop record behind its queue
  void retire_or_refresh(ChildSlot& slot);            // at each tick: retired or stale children stop

  // limits.cpp: time-driven lifecycle (start, task and memory limits, backoff)
  void service_timers();
  void check_task_timeout(ChildSlot& slot, uint64_t now);
  void check_memory(ChildSlot& slot);
  std::string oom_verdict(ChildSlot& slot);
  void note_oom_kill(ChildSlot& slot, int wait_status);
  uint64_t timeout_for(uint8_t kind) const;  // 0: none
  void record_run_time(uint8_t kind, uint64_t run_ns);
  void update_tick_period();

  // dispatch.cpp
  bool collect();                      // drains every child's results; true if any
  bool drain(ChildSlot& slot);
  void handle_record(ChildSlot& slot, std::string_view record);
  void handle_result(ChildSlot& slot, const ipc::ResultView& result);
  void protocol_violation(ChildSlot& slot, const std::string& what);
  void dispatch();
  bool send_next(ChildSlot& slot, bool admitting);
  void rebalance();
  void revoke_queue(ChildSlot& slot);
  uint32_t prefetch_limit(const ChildSlot& slot, uint8_t kind) const;
  // ran_ns: {start, end} of the attempt that ended it, when known (a crash or timeout of
  // the task the worker was running), so timelines can draw it.
  // wait_status: the raw status of the worker whose death ended the task, -1 for none.
  void finish_task(uint64_t id, ipc::Status status, std::string_view text, const ChildSlot* slot,
                   std::pair<uint64_t, uint64_t> ran_ns = {0, 0}, int wait_status = -1);
  // Every queued task cancelled, "cancelled before it started (CAUSE)".
  void cancel_pending();
  // What stopped the pool, for the cancelled tasks' text: "SIGINT", "the pool failed: ...".
  std::string stop_cause() const;
  void count_done(ipc::Status status);

  PoolOptions options_;
  std::vector<KindSpec> kinds_;                // the pool's kinds, then those add_kind() added
  std::size_t base_kinds_ = 0;                 // how many kinds the pool was made with
  std::vector<std::string> kind_definitions_;  // LoadPlugin and DefineKind records, sent first
  std::unique_ptr<ipc::Segment> segment_;
  // Workers killed by a signal before they were ready, in a row (any slot): this many
  // stop the pool as a start-up failure.
  static constexpr unsigned kStartupDeathsToFail = 3;
  unsigned startup_deaths_ = 0;
  std::unique_ptr<Containment> containment_;  // declared after segment_: gone before it
  // Reserved to capacity_ at start and never reallocated (the loop holds references);
  // slots past target_workers_ are retired.
  std::vector<ChildSlot> slots_;
  unsigned capacity_ = 0;
  unsigned target_workers_ = 0;
  uint64_t config_epoch_ = 0;  // bumped when a reconfigure changes kind options
  // Entries of tasks first_id_ .. next_id_-1. Finished entries at the front are dropped,
  // so a long-running pool holds only the window of unfinished tasks.
  std::deque<TaskEntry> tasks_;
  uint64_t first_id_ = 0;
  uint64_t next_id_ = 0;
  std::deque<uint64_t> pending_;
  // Tasks that ended in error, waiting for their rerun (PoolOptions::retries): id by the
  // time it is due. service_timers() queues them; a stop cancels them.
  std::multimap<uint64_t, uint64_t> retry_at_;
  std::vector<uint64_t> run_ewma_ns_;          // per kind, smoothed run time
  std::vector<std::vector<uint64_t>> run_samples_;  // per kind, recent run times (for % timeouts)
  std::vector<std::size_t> run_sample_next_;
  uint64_t done_count_ = 0;
  PoolEvents* events_ = nullptr;
  Remote* remote_ = nullptr;  // serve()'s, while it runs

  int epoll_fd_ = -1;
  int wake_fd_ = -1;     // eventfd the children write to when we sleep
  int signal_fd_ = -1;
  int timer_fd_ = -1;
  int signals_seen_ = 0;
  int first_signal_ = 0;
  bool stopping_ = false;  // no more dispatch: signal, fatal error, or the end
  std::string fatal_;
  std::deque<uint64_t> restart_times_ns_;
  // Deaths while tasks waited, since a task last finished: the backoff spaces restarts
  // beyond any period, so a pool that can finish nothing is stopped by count alone.
  uint32_t deaths_without_progress_ = 0;
  uint64_t restarts_ = 0;
  std::vector<uint64_t> respawn_latencies_;
  uint64_t last_poll_ns_ = 0;
  Admission admission_{AdmissionLimits{}};
  uint64_t tick_period_ns_ = 0;
  uint64_t last_user_tick_ns_ = 0;
  uint64_t last_memory_check_ns_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> rate_samples_;  // (time, tasks done), one a second
  bool memory_limits_given_ = false;  // by the user: checked every 10 ms, else every 100 ms
  std::string exe_;
  Supervisor* owner_ = nullptr;  // for Remote callbacks
};

}  // namespace procpool::supervisor
