#pragma once
// The supervisor: one pool of child processes fed through per-child SPSC rings in one
// shared-memory segment, run by one single-threaded event loop. It alone decides which
// child gets which task, so it always knows exactly which tasks each child holds; that
// is what makes recovery after a child's death exact.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/engine/admission.hpp"
#include "supervisor/engine/containment_mode.hpp"
#include "ipc/records.hpp"

namespace procpool::supervisor {

struct KindSpec {
  std::string name;
  std::string options;  // "key=value" lines, handed to the kind's factory in each child
};

struct PoolOptions {
  unsigned workers = 0;                 // 0: usable_cores()
  unsigned max_workers = 0;             // the most workers reconfigure() may grow to; 0: workers
  uint64_t ring_capacity = 1u << 20;    // bytes per ring per direction (power of two)
  std::string child_exe;                // empty: this executable, re-executed in child mode
  // Arguments before the child's own (ipc/child_args.hpp), for a child program that is an
  // interpreter: {"-c", "...worker loop..."} for the Python package's workers.
  std::vector<std::string> child_exe_args;
  std::vector<std::string> plugins;     // shared libraries every child loads before its kinds
  int initializer_kind = -1;            // index of a kind each child runs once before any task
  std::string initializer_input;        // ... with this input; its failure stops the pool
  bool handle_signals = false;          // SIGINT/SIGTERM drain the pool (the command line's way);
                                        // a library leaves the program's signals alone
  unsigned max_attempts = 3;            // runs of a task that may crash its child
  unsigned retries = 0;                 // reruns of a task that ended in error (GNU parallel's --retries)
  uint64_t retry_delay_ns = 100'000'000;  // before the first rerun; doubling, at most 10 s
  uint64_t start_timeout_ns = 30'000'000'000ull;  // a child must be ready within this
  uint64_t target_queue_ns = 2'000'000; // prefetch ~ this much work per child ahead
  uint32_t max_prefetch = 1024;         // queued tasks per child, at most
  unsigned max_restarts = 0;            // crash-loop limit: 0 means max(20, 2 x workers)
  uint64_t restart_period_ns = 10'000'000'000ull;  // ... within this window
  uint64_t backoff_initial_ns = 10'000'000;        // respawn delay after a 2nd crash in a row,
  uint64_t backoff_max_ns = 2'000'000'000ull;      // doubling per crash up to this
  uint64_t task_timeout_ns = 0;         // hard limit on one run of a task; 0: none
  unsigned timeout_percent = 0;         // or this % of the kind's median run time (min 100 ms)
  bool retry_timeouts = false;          // a timed-out task is retried (up to max_attempts)
  uint64_t max_tasks_per_child = 0;     // replace a child after this many tasks; 0: never
  uint64_t max_memory_per_child = 0;    // bytes of RSS: over it, a child finishes and is replaced
  uint64_t hard_memory_per_child = 0;   // bytes of RSS: over it, a child is killed at once and
                                        // its task charged; 0: 2 x max_memory, else half of RAM
  ContainmentMode containment = ContainmentMode::Auto;  // what holds each worker's tree
  unsigned max_procs_per_child = 1024;  // processes and threads of a worker's tree (pids.max); 0: no cap
  AdmissionLimits admission;            // --delay, --memfree, --load (admission.hpp)
};

// One task's one and only result, handed to PoolEvents::on_result.
struct Completion {
  uint64_t id = 0;
  uint8_t kind = 0;
  ipc::Status status = ipc::Status::ok;
  std::string_view input;
  std::string_view output;  // output if ok, else the error text; valid during the call
  bool output_is_json = false;
  bool cpu_measured = false;  // cpu_ns is only measured for tasks of kinds that run >= ~50 µs
  uint32_t attempts = 0;  // runs started, this one included; 0 if it never ran
  int worker = -1;        // slot that produced the result, -1 if none did
  pid_t pid = 0;
  uint64_t queued_ns = 0, start_ns = 0, end_ns = 0, cpu_ns = 0, max_rss_kb = 0;
  // crashed or timeout: the signal its worker died of, 0 if none, or the status it exited
  // with, -1 if it did not exit; ok or error: the same of the command the task ran (exec)
  int signal = 0;
  int exit_code = -1;
  // Its last run's worker died in it (a crash, a timeout, a kill): not a result the
  // worker sent, so what the task wrote is where the worker left it.
  bool worker_died = false;
};

// A worker process ended; for a service's log.
struct WorkerExit {
  int slot = 0;
  pid_t pid = 0;
  bool planned = false;  // it was told to leave (recycled, retired, pool stopping) and did
  std::string cause;     // "exited with status 0", "killed by SIGSEGV", "timed out after 2.00 s"
};

class PoolEvents {
 public:
  virtual ~PoolEvents() = default;
  virtual void on_result(const Completion& result) = 0;
  virtual void on_worker_exit(const WorkerExit&) {}
  virtual void on_tick() {}  // about every 100 ms
  // With handle_signals: a SIGINT/SIGTERM arrived; the first drains the pool (again: true
  // from the second on, which kills the workers). For a word to the user, at once.
  virtual void on_stop_signal(int /*signo*/, bool /*again*/) {}
  virtual void on_idle() {}  // the loop is about to sleep: flush what you buffer
};

struct WorkerStats {
  int slot = 0;
  pid_t pid = 0;
  uint64_t busy_ns = 0;  // time spent running tasks, all generations of the slot
  uint64_t tasks = 0;
  uint32_t restarts = 0;
};

// Work that arrives from other threads (the C++ API's submit and cancel). The loop calls
// take() on its own thread whenever wake_fd() is readable or it is about to sleep.
class Remote {
 public:
  virtual ~Remote() = default;
  // An eventfd (or any fd) that becomes readable when something was posted.
  virtual int wake_fd() const = 0;
  // Loop thread: takes what was posted (calling submit/cancel); true if anything was.
  virtual bool take(class Supervisor& pool) = 0;
  // Loop thread, while it spins before sleeping: a cheap look (no lock, no system call)
  // at whether anything was posted since the last take().
  virtual bool has_posts() const = 0;
  // Loop thread: announce that the loop will sleep unless something is posted now; true
  // if something was posted meanwhile (then the loop does not sleep). See ipc/doorbell.hpp.
  virtual bool prepare_sleep() = 0;
  virtual void woke() = 0;
  // Loop thread: true once the owner asked the loop to stop and what it wanted done is done.
  virtual bool finished(const class Supervisor& pool) const = 0;
  // Loop thread, just before and after it blocks in epoll (never while it works): a
  // Remote that lets other threads call the pool directly (the C++ API's submit from an
  // idle pool) releases and retakes the lock that serialises them with the loop here.
  virtual void before_blocking() {}
  virtual void after_blocking() {}
};

struct RunOutcome {
  int signal = 0;     // SIGINT/SIGTERM that stopped the run, 0 if none
  std::string error;  // why the pool could not work (then every unfinished task was cancelled)
};

class Supervisor {
 public:
  // Creates the segment and starts the children. Throws std::runtime_error when the
  // pool cannot be set up (no shared memory, the child executable missing).
  Supervisor(PoolOptions options, std::vector<KindSpec> kinds);
  ~Supervisor();  // kills any child still running and removes the segment
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  unsigned workers() const;
  // Queues a task of kinds[kind]; returns its id (0, 1, 2, ... in submission order).
  // flags: ipc::kTaskChunk for a chunk of inputs (ipc/chunk.hpp). queued_ns: when it was
  // queued, for a caller that submits a batch at one instant and reads the clock once
  // for all of it (a clock read is a fifth of the supervisor's cost of a no-op task);
  // 0: now. once: a crash or timeout of its run is its result at once, never retried (for
  // a chunk whose inputs the caller would rather run again one by one, where a crash is
  // surely the input's own).
  uint64_t submit(uint8_t kind, std::string input, uint16_t flags = 0, uint64_t queued_ns = 0, bool once = false);
  // The kind's recent run time per task (a moving average; 0 before its first result).
  uint64_t recent_run_ns(uint8_t kind) const;
  // Loop thread: defines a kind while the pool runs (a kind with the options a request
  // brought) and returns its id for submit(); an equal kind (name and options) already
  // defined is reused. Children get the definition before any task of it; a child in
  // which it cannot start answers its tasks with that error instead of failing. The
  // caller checks the options first. Throws std::length_error past 255 kinds.
  uint8_t add_kind(KindSpec spec);
  // Runs the loop until every child is ready, or the pool failed (then the error).
  std::string start_up();
  // Runs until every task submitted so far has had exactly one on_result; the children
  // stay up for more. A first SIGINT/SIGTERM cancels queued tasks and lets running ones
  // finish; a second kills the children (their running tasks are reported cancelled).
  // After a signal or an error the pool takes no more work.
  RunOutcome run(PoolEvents& events);
  // As run(), but also takes work from `remote` (other threads) and returns only when
  // remote.finished() says so (or the pool failed).
  RunOutcome serve(PoolEvents& events, Remote& remote);
  // Loop thread: cancels a task that has not started (reported cancelled at once): one
  // still pending, or one queued in a child's ring, which is taken back first (the tasks
  // queued with it go out again). False if it runs, is done, or unknown.
  bool cancel(uint64_t id, const std::string& reason);
  // Loop thread: as cancel(), and a task that runs is stopped: its child is killed with
  // all it started and replaced at once (not a crash: no attempt charged, no backoff),
  // the task reported cancelled with reason once the child is reaped, and what the child
  // held beside it goes to the queue again uncharged. False if done or unknown.
  bool kill(uint64_t id, const std::string& reason);
  // Sends what is pending to the children's rings now (ringing them), as the loop would
  // next; true if nothing is left pending. From the loop thread, or from another holding
  // what Remote::before_blocking() released (the loop is blocked, the pool is ours).
  bool dispatch_now();
  // The pool lent to another thread: one that holds what Remote::before_blocking()
  // released (the loop is blocked in epoll) may look for results itself, rather than wait
  // for the loop to be woken and hand them on (the C++ API's waiting thread: one wake-up
  // fewer on a result's way back). watch_results() first: the children stop ringing the
  // loop for results. collect_now() hands what came to PoolEvents::on_result on this
  // thread and sends what is pending; true if anything came. await_results() sleeps until
  // a result comes or timeout_ms passes (true), or until anything else the loop must
  // handle is ready (false: let the loop have it). return_results_watch() last, before
  // letting go: the loop is asleep as it left itself, or woken for results that wait.
  void watch_results();
  bool collect_now();
  bool await_results(int timeout_ms);
  void return_results_watch();
  // Loop thread: tasks submitted and not yet reported.
  uint64_t unfinished() const;
  // True once a signal or an error stopped the pool taking work.
  bool stopping() const;
  // Why tasks wait for PoolOptions::admission while none runs, "" when they do not.
  std::string waiting_for() const;
  // Loop thread (a PoolEvents call): stops the run as a first signal does (queued tasks
  // cancelled, running ones finish) or, kill_running, as a second (they are killed and
  // reported cancelled). RunOutcome::signal stays 0.
  void halt(bool kill_running);
  // Loop thread: applies new options and kind options to a running pool. The pool grows
  // or shrinks to options.workers (up to max_workers as given at construction): extra
  // children finish what they hold and leave, new ones start; no task is dropped. Limits
  // apply from now on; when any kind's options changed, every child is replaced as soon
  // as it has finished what it holds, so new tasks run with the new options. The kinds
  // (names, order) and plugins cannot change. Returns an error and changes nothing when
  // the new options cannot be applied.
  std::string reconfigure(PoolOptions options, const std::vector<KindSpec>& kinds);
  // The shared segment's name (procpool status and metrics read it).
  const std::string& segment_name() const;
  // How workers are contained here: "cgroup v2 (/sys/fs/cgroup/...)", "process groups (...)".
  const std::string& containment() const;
  // Lets every child finish what it holds and exit (SIGKILL after 5 s). The destructor
  // does not wait: it kills the children at once.
  void shutdown();

  std::vector<WorkerStats> worker_stats() const;
  uint64_t restarts() const;
  // Time from each unplanned child death to its replacement reporting ready.
  const std::vector<uint64_t>& respawn_latencies_ns() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace procpool::supervisor
