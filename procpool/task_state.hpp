#pragma once
// What a TaskFuture shares with the pool's loop thread, and who is told when it is done:
// threads blocked in get()/wait(), wait() and as_completed() over many futures (a
// Waiter each), and done callbacks (run by the pool's CallbackRunner, never on the loop
// thread). Internal to the library: not installed.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "procpool/pool.hpp"

namespace procpool {

struct ResultStream::Queue {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Result> ready;
  std::size_t remaining = 0;  // results not yet taken by next()
};

namespace detail {

constexpr uint64_t kNoId = UINT64_MAX;

// Many futures watched at once: complete() appends the watched position of each that is
// done and notifies.
struct Waiter {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::size_t> done;  // positions in the watcher's list, in completion order
};

// Runs done callbacks one after another on a thread of its own, so that a callback may
// block or call the pool without stalling the loop that fulfils every future.
class CallbackRunner {
 public:
  CallbackRunner();
  ~CallbackRunner();  // runs what is queued, then ends its thread
  CallbackRunner(const CallbackRunner&) = delete;
  CallbackRunner& operator=(const CallbackRunner&) = delete;
  void post(std::function<void()> job);
  // Returns once every job posted before has run (at once on the runner's own thread).
  void drain();

 private:
  void run();
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool ending_ = false;
  std::thread thread_;
};

struct TaskState {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  bool chunk = false;
  // A typed map's chunk: its Result stays one, the outputs undivided, for the caller to
  // decode (no Result and strings per input made on the loop thread).
  bool undivided = false;
  std::size_t first_index = 0;   // of its (first) input in map()'s inputs
  std::size_t count = 1;         // inputs it carries (more than one for a chunk)
  std::vector<Result> results;   // one per input, once done
  std::shared_ptr<ResultStream::Queue> stream;
  std::atomic<uint64_t> id{kNoId};  // set by the loop thread when it submits the task
  // done, readable without the mutex: a waiter spins on it briefly before it sleeps.
  // Release in complete() after the results are stored; acquire by the spinning waiter.
  std::atomic<bool> done_flag{false};
  // Told once when done, under m until then. Weak: a wait() that returned leaves no load.
  std::vector<std::pair<std::weak_ptr<Waiter>, std::size_t>> waiters;
  std::vector<std::function<void(const Result&)>> callbacks;
  std::shared_ptr<CallbackRunner> runner;  // the pool's, for callbacks
  // Whoever holds the pool's engine (PoolCore::engine_m) alone reads and writes these.
  bool batched = false;    // sent in a batch of submit()s (procpool/batches.hpp): id is the batch's
  bool stop_asked = false; // a cancel() or kill() of this task is what stops its batch
  bool alone = false;      // never batched (again): its batch failed as a whole
};

// The state behind a future, for the library's own files.
struct FutureAccess {
  static const std::shared_ptr<TaskState>& state(const TaskFuture& f) { return f.state_; }
  // A future of a task not yet posted: its state, its pool, the index of its (first) input.
  static TaskFuture make(const std::shared_ptr<PoolCore>& core, std::size_t first_index = 0,
                         std::shared_ptr<ResultStream::Queue> stream = nullptr) {
    TaskFuture f;
    f.state_ = std::make_shared<TaskState>();
    f.core_ = core;
    f.state_->first_index = first_index;
    f.state_->stream = std::move(stream);
    return f;
  }
};

// A chunk's Result as one Result per input (index unset), as the string API gives them.
std::vector<Result> expand_chunk(Result chunk, std::size_t count);

// Stores the results (index set from first_index), wakes everyone waiting, and hands the
// callbacks to the runner.
void complete(TaskState& state, std::vector<Result> results);

// Registers waiter for state at position; true (and nothing registered) if already done.
bool watch(TaskState& state, const std::shared_ptr<Waiter>& waiter, std::size_t position);

}  // namespace detail
}  // namespace procpool
