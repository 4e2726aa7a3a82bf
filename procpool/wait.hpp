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

}  // namespace procpool
