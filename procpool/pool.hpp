#pragma once
// procpool's C++ API: a pool of worker processes, as Python's multiprocessing.Pool and
// concurrent.futures.ProcessPoolExecutor, with crash isolation: a task that crashes its
// worker fails only its own future (TaskCrashed, or a Result with status crashed); the
// pool goes on.
//
//   PROCPOOL_TASK(sum_squares, [](const Range& r) { ... return total; });   // namespace scope
//   procpool::Pool pool;                                      // one worker per usable core
//   procpool::Future<uint64_t> f = pool.submit(sum_squares, {0, 1000});
//   uint64_t total = f.get();                                 // or throws TaskFailed, ...
//   std::vector<uint64_t> v = pool.map(square, inputs);       // chunked as Pool.map
//   procpool::Result r = pool.apply("thumbnail", path);       // built-in and plugin kinds
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

#include "procpool/future.hpp"
#include "procpool/task.hpp"

namespace procpool {

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

// imap() of a typed task: its Outs, in input order or as they land. A failed task
// throws its TaskFailed (or subclass) from next() at its place; next() may be called
// again for the rest.
template <typename Out>
class LazyValues {
 public:
  explicit LazyValues(LazyResults results) : results_(std::move(results)) {}
  using iterator = detail::PullIterator<LazyValues, Out>;
  iterator begin() { return iterator(this); }
  iterator end() { return {}; }
  std::optional<Out> next() {
    std::optional<Result> r = results_.next();
    if (!r) return std::nullopt;
    return r->template value<Out>();
  }

 private:
  LazyResults results_;
};

namespace detail {
// A typed map in flight: each chunk is sent as soon as its inputs are added, so that the
// workers start while later inputs are still being encoded, and outputs are read in input
// order as their chunks finish. The library's own: use Pool::map.
class MapRun {
 public:
  MapRun(Pool& pool, const char* kind, std::size_t inputs, std::size_t chunksize, std::chrono::nanoseconds timeout,
         OnTimeout on_timeout);
  void add(std::string_view encoded) {
    if (count_ != 0 && (count_ == chunksize_ || payload_.size() + encoded.size() + sizeof(uint32_t) > kChunkBytes))
      send();
    if (chunksize_ == 1) {
      payload_.assign(encoded);
    } else {
      // Room for a chunk of inputs like this one at once: no regrowth while it fills.
      if (count_ == 0) payload_.reserve(std::min(kChunkBytes, chunksize_ * (encoded.size() + sizeof(uint32_t))));
      ipc::append_chunk_input(payload_, encoded);
    }
    ++count_;
  }
  // Auto chunks (chunksize 0) hold at most this many inputs, and any chunk this many bytes
  // of them, so that a chunk and its outputs stay well inside a worker's rings (512 KiB a
  // record).
  static constexpr std::size_t kAutoChunkMax = 1024;
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  // Sends what is left, then fn(bytes) for each output in input order. Once every task is
  // done, throws the failure of the first input that failed; TimeoutError as Pool::map.
  void outputs(const std::function<void(std::string_view)>& fn);

 private:
  void send();
  Pool& pool_;
  uint8_t kind_;
  std::size_t chunksize_;
  std::chrono::nanoseconds timeout_;
  OnTimeout on_timeout_;
  std::string payload_;
  std::size_t count_ = 0;  // inputs in payload_
  std::size_t first_ = 0;  // index of payload_'s first input
  std::vector<TaskFuture> futures_;
};
}  // namespace detail

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
  std::vector<std::string> executable_args;  // before the child's own: an interpreter's (-c CODE)
  // What holds each worker and all its tasks start (README): "auto", "cgroup2",
  // "cgroup1" or "process-group"; a forced one the machine lacks fails the Pool.
  std::string containment = "auto";
  unsigned max_procs_per_child = 1024;  // processes and threads of a worker's tree (pids.max); 0: none
  // While submit()s of a kind whose tasks run under ~20 us flood in faster than they are
  // sent, send them many to a record (as map's chunks), each still its own future and
  // result. A batch whose worker crashes or hangs runs each of its tasks again alone (so
  // a crash is charged to the task that caused it, and a task may run twice); a batch
  // shares its timings. False: every submit() is a record of its own.
  bool batch_submits = true;
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

  // Queues a task and returns at once: 0.2-0.4 us of the caller's time on a busy pool;
  // on an idle one it writes the worker's ring itself (the wake-up included, tens of us).
  // A flood of short tasks goes to the workers in batches (Options::batch_submits).
  // Never waits for a worker or a task. Throws PoolError for an unknown kind or after
  // shutdown.
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

  // Typed tasks, by their PROCPOOL_TASK handle: the input is the task's In (or its
  // arguments, for a task of several), get() its Out or the exception of its failure.
  // Costs as the string API's; a typed map spends 15-30 ns per cheap input (README).
  //   procpool::Future<uint64_t> f = pool.submit(sum_squares, {0, 1000});
  //   std::vector<uint64_t> v = pool.map(square, inputs);
  template <typename In, typename Out>
  Future<Out> submit(const Task<In, Out>& task, const In& input) {
    return Future<Out>(submit(task.name, Codec<In>::encode(input)));
  }
  template <typename... A, typename Out, typename... Args>
    requires(sizeof...(Args) != 1)
  Future<Out> submit(const Task<std::tuple<A...>, Out>& task, Args&&... args) {
    return submit(task, std::tuple<A...>(std::forward<Args>(args)...));
  }
  template <typename In, typename Out, typename... Args>
  Out apply(const Task<In, Out>& task, Args&&... args) {
    return submit(task, std::forward<Args>(args)...).get();
  }
  // The outputs in input order, once all are done; a failure throws its TaskFailed (or
  // subclass) for the first input that failed, in input order, after the rest are done
  // (as Pool.map). chunksize 0 chooses as Python's Pool.map does (a quarter of an even
  // share per worker), bounded so that a chunk stays well inside a worker's ring.
  // timeout and on_timeout as for the string map (TimeoutError::finished: the Results).
  template <typename In, typename Out>
  std::vector<Out> map(const Task<In, Out>& task, const std::vector<In>& inputs, std::size_t chunksize = 0,
                       std::chrono::nanoseconds timeout = std::chrono::nanoseconds{0},
                       OnTimeout on_timeout = OnTimeout::cancel) {
    detail::MapRun run(*this, task.name, inputs.size(), chunksize, timeout, on_timeout);
    for (const In& in : inputs) {
      if constexpr (detail::raw_codec<In>::value) {
        run.add(std::string_view(reinterpret_cast<const char*>(&in), sizeof in));
      } else if constexpr (std::is_same_v<In, std::string>) {
        run.add(in);  // its bytes as they are: no copy
      } else {
        run.add(Codec<In>::encode(in));
      }
    }
    std::vector<Out> out;
    out.reserve(inputs.size());
    run.outputs([&](std::string_view bytes) { out.push_back(Codec<Out>::decode(bytes)); });
    return out;
  }
  // map over a task of several arguments, each input a tuple of them.
  template <typename... A, typename Out>
  std::vector<Out> starmap(const Task<std::tuple<A...>, Out>& task, const std::vector<std::tuple<A...>>& inputs,
                           std::size_t chunksize = 0) {
    return map(task, inputs, chunksize);
  }
  // Lazy as imap(kind, ...), yielding Outs; a failed task throws at its place, and the
  // iteration may go on after it.
  template <typename In, typename Out, typename Range>
  LazyValues<Out> imap(const Task<In, Out>& task, Range&& inputs, std::size_t buffersize = 0) {
    return LazyValues<Out>(lazy(task.name, source_of<In>(std::forward<Range>(inputs)), buffersize, true));
  }
  template <typename In, typename Out, typename Range>
  LazyValues<Out> imap_unordered(const Task<In, Out>& task, Range&& inputs, std::size_t buffersize = 0) {
    return LazyValues<Out>(lazy(task.name, source_of<In>(std::forward<Range>(inputs)), buffersize, false));
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
  template <typename As = void, typename Range>
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
      using Element = std::decay_t<decltype(**cursor->at)>;
      std::string bytes = Codec<std::conditional_t<std::is_void_v<As>, Element, As>>::encode(**cursor->at);
      ++*cursor->at;
      return bytes;
    };
  }
  LazyResults lazy(const std::string& kind, LazyResults::Source source, std::size_t buffersize, bool ordered);
  void wait_all(std::vector<TaskFuture>& futures, std::chrono::nanoseconds timeout, OnTimeout on_timeout);
  [[noreturn]] void timed_out(std::vector<TaskFuture>& futures, std::size_t from, OnTimeout on_timeout);
  std::vector<TaskFuture> submit_chunks(const std::string& kind, const std::vector<std::string>& inputs,
                                        std::size_t chunksize, const std::shared_ptr<ResultStream::Queue>& stream);

  friend class detail::MapRun;
  std::shared_ptr<detail::PoolCore> core_;
};

}  // namespace procpool

#include "procpool/wait.hpp"
