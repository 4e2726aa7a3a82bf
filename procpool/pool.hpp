#pragma once
// procpool's C++ API: a pool of worker processes, as Python's multiprocessing.Pool and
// concurrent.futures.ProcessPoolExecutor, with crash isolation: a task that crashes its
// worker comes back as a Result with status crashed; the pool goes on.
//
//   procpool::Pool pool;                                   // one worker per usable core
//   auto f = pool.submit("sum_squares", Range{0, 1000});   // a TaskFuture
//   uint64_t total = f.get().value<uint64_t>();
//   std::vector<procpool::Result> rs = pool.map("thumbnail", paths, /*chunksize=*/4);
//
// Every method may be called from any thread. The pool's supervisor runs on a thread of
// its own; futures are fulfilled from it. Nothing here hangs on a crashed worker.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <iterator>
#include <type_traits>
#include <utility>
#include <stdexcept>
#include <string>
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
// Result::value() on a result that is not ok: what() is the task's error.
struct TaskFailed : std::runtime_error {
  TaskFailed(Status s, const std::string& error) : std::runtime_error(std::string(to_string(s)) + ": " + error), status(s) {}
  Status status;
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
  // The output decoded as T (see Codec). Throws TaskFailed if not ok, DecodeError if the
  // bytes are not a T.
  template <typename T>
  T value() const {
    if (!ok()) throw TaskFailed(status, error);
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

namespace detail {
struct TaskState;
struct PoolCore;
struct FutureAccess;
}  // namespace detail

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
  // started and replaced at once; the result is cancelled, never retried. Returns once the result is in (a SIGKILL and a reap: milliseconds), true
  // if it is cancelled, false if the task had ended before.
  bool kill();
  // fn(result) once the task is done (at once if it is), on a thread the pool owns: never
  // the loop that fulfils the futures, so fn may block or submit. One after another, in
  // the order they became due. A callback that throws is reported on stderr; the others
  // still run.
  void on_done(std::function<void(const Result&)> fn);

 private:
  friend class Pool;
  friend class LazyResults;
  friend struct detail::FutureAccess;
  std::shared_ptr<detail::TaskState> state_;
  std::shared_ptr<detail::PoolCore> core_;
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
  T& operator*() { return current_; }
  T* operator->() { return &current_; }
  PullIterator& operator++() {
    std::optional<T> next = source_->next();
    if (next) {
      current_ = std::move(*next);
    } else {
      source_ = nullptr;
    }
    return *this;
  }
  bool operator==(const PullIterator& o) const { return source_ == o.source_; }
  bool operator!=(const PullIterator& o) const { return source_ != o.source_; }

 private:
  Source* source_ = nullptr;
  T current_{};
};
}  // namespace detail

// Results in the order they complete (map_unordered): for (auto& r : stream).
class ResultStream {
 public:
  struct Queue;
  using iterator = detail::PullIterator<ResultStream, Result>;
  iterator begin() { return iterator(this); }
  iterator end() { return {}; }
  // The next result, waiting for it; nullopt when all have been taken.
  std::optional<Result> next();

 private:
  friend class Pool;
  std::shared_ptr<Queue> queue_;
};

// Results of imap() (input order) or imap_unordered() (as they complete), the inputs
// pulled from their range only as room frees up: at most buffersize in flight.
//   for (const procpool::Result& r : pool.imap("square", inputs)) ...
class LazyResults {
 public:
  // The next encoded input; nullopt at the end. What it throws, next() rethrows.
  using Source = std::function<std::optional<std::string>()>;
  using iterator = detail::PullIterator<LazyResults, Result>;
  iterator begin() { return iterator(this); }
  iterator end() { return {}; }
  // The next result, waiting for it; nullopt after the last. When the input range threw,
  // its exception comes here at its place: after the results of the inputs before it
  // (in either order), and then the results end. The pool stays usable.
  std::optional<Result> next();

 private:
  friend class Pool;
  LazyResults(std::shared_ptr<detail::PoolCore> core, uint8_t kind, Source source, std::size_t buffersize,
              bool ordered);
  void top_up();

  std::shared_ptr<detail::PoolCore> core_;
  uint8_t kind_;
  Source source_;
  std::size_t buffersize_;
  bool ordered_;
  std::deque<TaskFuture> in_order_;             // imap: the futures in flight, oldest first
  std::shared_ptr<ResultStream::Queue> queue_;  // imap_unordered: results as they land
  std::size_t in_flight_ = 0;
  std::size_t next_index_ = 0;
  bool exhausted_ = false;
  std::exception_ptr error_;
};

struct Options {
  unsigned workers = 0;  // 0: usable cores (affinity and cgroup quota)
  unsigned max_attempts = 3;
  std::chrono::nanoseconds task_timeout{0};  // 0: none
  bool retry_timeouts = false;
  uint64_t max_tasks_per_child = 0;     // 0: never replace
  uint64_t max_memory_per_child = 0;    // bytes; 0: none
  uint64_t hard_memory_per_child = 0;   // bytes; 0: default (see README)
  std::string initializer;              // a kind run once in each child before any task
  std::string initializer_input;
  std::vector<std::string> plugins;     // shared libraries with more kinds
  std::map<std::string, KindOptions> kind_options;  // e.g. {"thumbnail", size=64x64}
  std::string executable;               // default: this program, in child mode
  // What holds each worker and all its tasks start (README): "auto", "cgroup2",
  // "cgroup1" or "process-group"; a forced one the machine lacks fails the Pool.
  std::string containment = "auto";
  unsigned max_procs_per_child = 1024;  // processes and threads of a worker's tree (pids.max); 0: none
};

class Pool {
 public:
  // Starts the workers and waits until every one is ready. Throws PoolError when the pool
  // cannot start (a plugin that does not load, a failing initializer, no executable).
  explicit Pool(Options options = {});
  ~Pool();  // shutdown(wait = true)
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  unsigned workers() const;
  // How the workers are contained here: "cgroup v2 (/sys/fs/cgroup/...)", "process groups".
  const std::string& containment() const;

  TaskFuture submit(const std::string& kind, std::string input);
  template <typename In>
  TaskFuture submit(const std::string& kind, const In& input) {
    return submit(kind, Codec<In>::encode(input));
  }
  // submit(...).get()
  template <typename In>
  Result apply(const std::string& kind, const In& input) {
    return submit(kind, input).get();
  }

  // Results in input order. chunksize > 1 sends that many inputs per task (fewer round
  // trips; a crash then fails the whole chunk's tasks). When timeout (non-zero) passes
  // first, the tasks not done are cancelled or killed (on_timeout) and TimeoutError
  // carries the results that had arrived; it is thrown within milliseconds of the
  // timeout, never after a running task.
  std::vector<Result> map(const std::string& kind, const std::vector<std::string>& inputs, std::size_t chunksize = 1,
                          std::chrono::nanoseconds timeout = std::chrono::nanoseconds{0},
                          OnTimeout on_timeout = OnTimeout::cancel);
  template <typename In>
  std::vector<Result> map(const std::string& kind, const std::vector<In>& inputs, std::size_t chunksize = 1,
                          std::chrono::nanoseconds timeout = std::chrono::nanoseconds{0},
                          OnTimeout on_timeout = OnTimeout::cancel) {
    return map(kind, encode_all(inputs), chunksize, timeout, on_timeout);
  }
  // Results as they complete; Result::index says which input.
  ResultStream map_unordered(const std::string& kind, const std::vector<std::string>& inputs, std::size_t chunksize = 1);
  template <typename In>
  ResultStream map_unordered(const std::string& kind, const std::vector<In>& inputs, std::size_t chunksize = 1) {
    return map_unordered(kind, encode_all(inputs), chunksize);
  }

  // Lazy map over any input range (a container, a view, a generator: what begin() and
  // end() walk) of values Codec
  // encodes: inputs are taken from it only while fewer than buffersize (0: 16 per worker)
  // are in flight, so a range of any length runs in bounded memory. Result::index is the
  // input's position. imap yields in input order, imap_unordered as results land.
  template <typename Range>
  LazyResults imap(const std::string& kind, Range&& inputs, std::size_t buffersize = 0) {
    return lazy(kind, source_of(std::forward<Range>(inputs)), buffersize, true);
  }
  template <typename Range>
  LazyResults imap_unordered(const std::string& kind, Range&& inputs, std::size_t buffersize = 0) {
    return lazy(kind, source_of(std::forward<Range>(inputs)), buffersize, false);
  }

  // Stops the pool: with cancel_pending, tasks not started are cancelled (also those in
  // a worker's queue); with kill_running, those too and the running ones are killed with
  // their workers (reported cancelled); with wait, returns once every task has its
  // result and the workers are gone. Later submits fail with PoolError. The first call
  // decides; later ones only wait.
  void shutdown(bool wait = true, bool cancel_pending = false, bool kill_running = false);
  // As Python 3.14's: stop the pool now, every task not done cancelled and the workers
  // killed with all they started; return once they are gone. Both SIGKILL: a worker's
  // tree is held in one container (cgroup or process group), and a kill is what reaches
  // all of it at once, so terminate_workers() is kill_workers().
  void terminate_workers() { shutdown(true, true, true); }
  void kill_workers() { shutdown(true, true, true); }

 private:
  template <typename In>
  static std::vector<std::string> encode_all(const std::vector<In>& inputs) {
    std::vector<std::string> out;
    out.reserve(inputs.size());
    for (const In& in : inputs) out.push_back(Codec<In>::encode(in));
    return out;
  }
  // A range as a Source: an lvalue range is read in place (keep it alive while the
  // results are read), an rvalue one is kept. Plain begin()/end(), not std::ranges, which
  // Clang 14 cannot compile over libstdc++ 12.
  template <typename Range>
  static LazyResults::Source source_of(Range&& inputs) {
    using Plain = std::remove_reference_t<Range>;
    using Held = std::conditional_t<std::is_lvalue_reference_v<Range>, Plain*, Plain>;
    using Iterator = decltype(std::begin(std::declval<Plain&>()));
    struct Cursor {
      Held range;
      std::optional<Iterator> at;
      Plain& get() {
        if constexpr (std::is_pointer_v<Held>) {
          return *range;
        } else {
          return range;
        }
      }
    };
    std::shared_ptr<Cursor> cursor;
    if constexpr (std::is_lvalue_reference_v<Range>) {
      cursor = std::make_shared<Cursor>(Cursor{&inputs, std::nullopt});
    } else {
      cursor = std::make_shared<Cursor>(Cursor{std::forward<Range>(inputs), std::nullopt});
    }
    return [cursor]() -> std::optional<std::string> {
      if (!cursor->at) cursor->at = std::begin(cursor->get());
      if (*cursor->at == std::end(cursor->get())) return std::nullopt;
      std::string bytes = Codec<std::decay_t<decltype(**cursor->at)>>::encode(**cursor->at);
      ++*cursor->at;
      return bytes;
    };
  }
  LazyResults lazy(const std::string& kind, LazyResults::Source source, std::size_t buffersize, bool ordered);
  [[noreturn]] void timed_out(std::vector<TaskFuture>& futures, std::size_t from, std::vector<Result>& out,
                              OnTimeout on_timeout);
  std::vector<TaskFuture> submit_chunks(const std::string& kind, const std::vector<std::string>& inputs,
                                        std::size_t chunksize, const std::shared_ptr<ResultStream::Queue>& stream);

  std::shared_ptr<detail::PoolCore> core_;
};

}  // namespace procpool

#include "procpool/wait.hpp"
