#pragma once
// What a task gives back: its Result, the TaskFuture that waits for it, the typed
// Future<Out> of a PROCPOOL_TASK handle, and the exceptions a failed task becomes.
// Included by procpool/pool.hpp.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ipc/status.hpp"
#include "procpool/task.hpp"

namespace procpool {

// ok, error, crashed, timeout, cancelled: the engine's own status type, not a copy of it.
using Status = ipc::Status;
inline const char* to_string(Status status) { return ipc::status_name(status); }

// The pool could not start or was used wrongly (a kind it does not know, after shutdown).
struct PoolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A task that did not succeed, as thrown by Future<Out>::get() and Result::value():
// what() is "status: message". The status decides the class, so that a caller can catch
// only what it handles: TaskFailed (its own code threw or failed: status error) is the
// base of the others.
struct TaskFailed : std::runtime_error {
  TaskFailed(Status s, std::string why, uint32_t tries = 0)
      : std::runtime_error(std::string(to_string(s)) + ": " + why), status(s), message(std::move(why)), attempts(tries) {}
  Status status;
  std::string message;  // the task's error ("killed by signal 9 (SIGKILL)", an exception's what())
  uint32_t attempts;    // how many times it ran (a crash is retried up to max_attempts)
};
// Its worker died under it (a signal, an exit, a memory limit) on every attempt.
struct TaskCrashed : TaskFailed {
  using TaskFailed::TaskFailed;
};
// It ran past Options::task_timeout and was killed.
struct TaskTimedOut : TaskFailed {
  using TaskFailed::TaskFailed;
};
// cancel(), kill(), a map's timeout or a shutdown stopped it.
struct TaskCancelled : TaskFailed {
  using TaskFailed::TaskFailed;
};

struct Result {
  Status status = Status::cancelled;
  std::string output;  // when ok
  std::string error;   // otherwise
  bool output_is_json = false;
  uint32_t attempts = 0;
  int worker = -1;
  pid_t pid = 0;
  std::size_t index = 0;  // position in map()/map_unordered() inputs; 0 for submit()
  std::chrono::nanoseconds wait{0}, run{0}, cpu{0};  // cpu is 0 when not measured
  uint64_t max_rss_kb = 0;

  bool ok() const { return status == Status::ok; }
  // Throws the TaskFailed (or subclass) this result stands for; nothing if ok.
  void throw_if_failed() const {
    switch (status) {
      case Status::ok:
        return;
      case Status::crashed:
        throw TaskCrashed(status, error, attempts);
      case Status::timeout:
        throw TaskTimedOut(status, error, attempts);
      case Status::cancelled:
        throw TaskCancelled(status, error, attempts);
      default:
        throw TaskFailed(status, error, attempts);
    }
  }
  // The output decoded as T (see Codec). Throws TaskFailed (or a subclass) if not ok,
  // DecodeError if the bytes are not a T.
  template <typename T>
  T value() const {
    throw_if_failed();
    return Codec<T>::decode(output);
  }
};

// map() with a timeout that passed before every result arrived. finished: the results
// that had arrived, each with its Result::index; the rest were cancelled (or killed, or
// left running: map()'s on_timeout).
struct TimeoutError : std::runtime_error {
  TimeoutError(const std::string& what, std::vector<Result> done);
  std::vector<Result> finished;
};

// What map() does with the tasks left when its timeout passes: cancel those not started
// (the running ones finish, their results unseen), or kill the running ones too.
enum class OnTimeout { cancel, kill };

class Pool;
namespace detail {
struct TaskState;
struct PoolCore;
struct FutureAccess;
class MapRun;
}  // namespace detail

// Waiting costs the task's own time plus the wake-ups that bring its result: 2-7 us on a
// busy pool, 28-35 us (p50) from an idle one on a 2-core VM (docs/BENCHMARKS.md), where
// the waiting thread collects the result itself, woken by the worker. No call here hangs
// on a worker that crashed or hung: its task comes back crashed or timeout.
class TaskFuture {
 public:
  TaskFuture() = default;
  Result get() const;  // waits
  void wait() const;
  bool wait_for(std::chrono::nanoseconds timeout) const;  // true once the result is in
  bool ready() const;
  // Cancels the task if it has not started (its result: cancelled), also when it waits
  // in a worker's queue, which gives it back. False if it runs or is done. Never waits
  // for a task: only for the pool's loop to answer (microseconds).
  bool cancel();
  // As cancel(), and a running task is stopped: its worker is killed with everything it
  // started and replaced at once; the result is cancelled, never retried. Returns once the
  // result is in (a SIGKILL and a reap: milliseconds), true if it is cancelled, false if
  // the task had ended before.
  bool kill();
  // fn(result) once the task is done (at once if it is), on a thread the pool owns: never
  // the loop that fulfils the futures, so fn may block or submit. One after another, in
  // the order they became due. A callback that throws is reported on stderr; the others
  // still run.
  void on_done(std::function<void(const Result&)> fn);

 private:
  friend class Pool;
  friend class LazyResults;
  friend class detail::MapRun;
  friend struct detail::FutureAccess;
  std::shared_ptr<detail::TaskState> state_;
  std::shared_ptr<detail::PoolCore> core_;
};

// The future of a typed task (Pool::submit(task, input) with a PROCPOOL_TASK handle):
// get() is the task's Out, or throws what its Result stands for (TaskCrashed, ...).
template <typename Out>
class Future {
 public:
  using value_type = Out;
  Future() = default;
  explicit Future(TaskFuture f) : f_(std::move(f)) {}

  Out get() const { return f_.get().template value<Out>(); }  // waits
  Result result() const { return f_.get(); }                  // waits; never throws for the task
  void wait() const { f_.wait(); }
  bool wait_for(std::chrono::nanoseconds timeout) const { return f_.wait_for(timeout); }
  bool ready() const { return f_.ready(); }
  bool cancel() { return f_.cancel(); }  // as TaskFuture's
  bool kill() { return f_.kill(); }
  // fn(future) once done, ready to get(): as TaskFuture::on_done (the pool's thread).
  void on_done(std::function<void(const Future&)> fn) const {
    TaskFuture f = f_;
    f.on_done([self = *this, fn = std::move(fn)](const Result&) { fn(self); });
  }
  // fn(out) on the pool's callback thread once the task succeeded; the std::future holds
  // what fn returns, or what fn threw, or the task's failure (fn is then not called).
  template <typename F>
  std::future<std::invoke_result_t<F, Out>> then(F fn) const {
    using R = std::invoke_result_t<F, Out>;
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> out = promise->get_future();
    TaskFuture f = f_;
    f.on_done([promise, fn = std::move(fn)](const Result& r) mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn(r.template value<Out>());
          promise->set_value();
        } else {
          promise->set_value(fn(r.template value<Out>()));
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    return out;
  }
  // The untyped future, for procpool::wait() and as_completed() over mixed tasks.
  const TaskFuture& untyped() const { return f_; }

 private:
  TaskFuture f_;
};

namespace detail {
// An input iterator over what source->next() gives until nullopt: range-for over a stream.
template <typename Source, typename T>
class PullIterator {
 public:
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  PullIterator() = default;
  explicit PullIterator(Source* source) : source_(source) { ++*this; }
  T& operator*() { return *current_; }
  T* operator->() { return &*current_; }
  PullIterator& operator++() {
    current_ = source_->next();
    if (!current_) source_ = nullptr;
    return *this;
  }
  bool operator==(const PullIterator& o) const { return source_ == o.source_; }
  bool operator!=(const PullIterator& o) const { return source_ != o.source_; }

 private:
  Source* source_ = nullptr;
  std::optional<T> current_;  // optional: a typed Out need not be default-constructible
};
}  // namespace detail

}  // namespace procpool
