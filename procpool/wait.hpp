#pragma once
// Waiting on many futures at once, as concurrent.futures.wait and as_completed (included
// by procpool/pool.hpp). A future given twice counts once, as in Python's sets.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "procpool/pool.hpp"  // TaskFuture, TimeoutError (it includes this file last)

namespace procpool {

namespace detail {
struct Waiter;
}

enum class ReturnWhen {
  FirstCompleted,  // any future done
  FirstException,  // any done with a status not ok, or all done
  AllCompleted,
};
inline constexpr ReturnWhen FirstCompleted = ReturnWhen::FirstCompleted;
inline constexpr ReturnWhen FirstException = ReturnWhen::FirstException;
inline constexpr ReturnWhen AllCompleted = ReturnWhen::AllCompleted;

struct WaitResult {
  std::vector<TaskFuture> done, not_done;  // each in the order first given
};

// Returns when `when` holds or the timeout (none: no limit; 0: look, never wait) passes.
// Never cancels anything.
WaitResult wait(const std::vector<TaskFuture>& futures, ReturnWhen when = AllCompleted,
                std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

// Each future once, as it completes (those done already first, in the order given):
//   for (procpool::TaskFuture& f : procpool::as_completed(futures)) use(f.get());
// Throws TimeoutError (nothing in finished) when the timeout passes with futures not done.
class AsCompleted {
 public:
  using iterator = detail::PullIterator<AsCompleted, TaskFuture>;
  AsCompleted(const std::vector<TaskFuture>& futures, std::optional<std::chrono::nanoseconds> timeout);
  iterator begin() { return iterator(this); }
  iterator end() { return {}; }
  // The next future to complete, waiting for it; nullopt after the last.
  std::optional<TaskFuture> next();

 private:
  std::vector<TaskFuture> futures_;
  std::shared_ptr<detail::Waiter> waiter_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::size_t yielded_ = 0;
};

AsCompleted as_completed(const std::vector<TaskFuture>& futures,
                         std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

// The same over typed futures (Pool::submit with a PROCPOOL_TASK handle).
template <typename Out>
struct WaitResultOf {
  std::vector<Future<Out>> done, not_done;  // each in the order first given
};

namespace detail {
template <typename Out>
std::vector<TaskFuture> untyped_all(const std::vector<Future<Out>>& futures) {
  std::vector<TaskFuture> out;
  out.reserve(futures.size());
  for (const Future<Out>& f : futures) out.push_back(f.untyped());
  return out;
}
template <typename Out>
std::vector<Future<Out>> typed_all(std::vector<TaskFuture> futures) {
  std::vector<Future<Out>> out;
  out.reserve(futures.size());
  for (TaskFuture& f : futures) out.emplace_back(std::move(f));
  return out;
}
}  // namespace detail

template <typename Out>
WaitResultOf<Out> wait(const std::vector<Future<Out>>& futures, ReturnWhen when = AllCompleted,
                       std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  WaitResult r = wait(detail::untyped_all(futures), when, timeout);
  return {detail::typed_all<Out>(std::move(r.done)), detail::typed_all<Out>(std::move(r.not_done))};
}

template <typename Out>
class AsCompletedOf {
 public:
  using iterator = detail::PullIterator<AsCompletedOf, Future<Out>>;
  AsCompletedOf(const std::vector<Future<Out>>& futures, std::optional<std::chrono::nanoseconds> timeout)
      : inner_(detail::untyped_all(futures), timeout) {}
  iterator begin() { return iterator(this); }
  iterator end() { return {}; }
  std::optional<Future<Out>> next() {
    std::optional<TaskFuture> f = inner_.next();
    if (!f) return std::nullopt;
    return Future<Out>(std::move(*f));
  }

 private:
  AsCompleted inner_;
};

//   for (procpool::Future<uint64_t>& f : procpool::as_completed(futures)) total += f.get();
template <typename Out>
AsCompletedOf<Out> as_completed(const std::vector<Future<Out>>& futures,
                                std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  return AsCompletedOf<Out>(futures, timeout);
}

}  // namespace procpool
