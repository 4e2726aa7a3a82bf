#include "procpool/wait.hpp"

#include <algorithm>

#include "procpool/task_state.hpp"

namespace procpool {

namespace {

std::vector<TaskFuture> without_duplicates(const std::vector<TaskFuture>& futures) {
  std::vector<TaskFuture> out;
  std::vector<const detail::TaskState*> seen;
  for (const TaskFuture& f : futures) {
    const detail::TaskState* state = detail::FutureAccess::state(f).get();
    if (state == nullptr) throw PoolError("an empty TaskFuture");
    if (std::find(seen.begin(), seen.end(), state) != seen.end()) continue;
    seen.push_back(state);
    out.push_back(f);
  }
  return out;
}

bool failed(const TaskFuture& f) {
  detail::TaskState& state = *detail::FutureAccess::state(f);
  std::lock_guard<std::mutex> lock(state.m);
  return std::any_of(state.results.begin(), state.results.end(), [](const Result& r) { return !r.ok(); });
}

// Watches every future: those done already are in waiter->done at once, in their order.
std::shared_ptr<detail::Waiter> watch_all(const std::vector<TaskFuture>& futures) {
  auto waiter = std::make_shared<detail::Waiter>();
  for (std::size_t i = 0; i < futures.size(); ++i)
    if (detail::watch(*detail::FutureAccess::state(futures[i]), waiter, i)) {
      std::lock_guard<std::mutex> lock(waiter->m);
      waiter->done.push_back(i);
    }
  return waiter;
}

}  // namespace

WaitResult wait(const std::vector<TaskFuture>& given, ReturnWhen when, std::optional<std::chrono::nanoseconds> timeout) {
  const std::vector<TaskFuture> futures = without_duplicates(given);
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::nanoseconds{0});
  const std::shared_ptr<detail::Waiter> waiter = watch_all(futures);
  std::vector<bool> done(futures.size(), false);
  std::size_t done_count = 0;
  bool any_failed = false;
  auto satisfied = [&] {
    if (done_count == futures.size()) return true;
    if (when == FirstCompleted) return done_count > 0;
    return when == FirstException && any_failed;
  };
  std::unique_lock<std::mutex> lock(waiter->m);
  for (;;) {
    while (!waiter->done.empty()) {
      const std::size_t i = waiter->done.front();
      waiter->done.pop_front();
      done[i] = true;
      ++done_count;
      if (when == FirstException && !any_failed) any_failed = failed(futures[i]);
    }
    if (satisfied()) break;
    if (!timeout) {
      waiter->cv.wait(lock, [&] { return !waiter->done.empty(); });
    } else if (!waiter->cv.wait_until(lock, deadline, [&] { return !waiter->done.empty(); })) {
      break;
    }
  }
  WaitResult out;
  for (std::size_t i = 0; i < futures.size(); ++i) (done[i] ? out.done : out.not_done).push_back(futures[i]);
  return out;
}

AsCompleted::AsCompleted(const std::vector<TaskFuture>& futures, std::optional<std::chrono::nanoseconds> timeout)
    : futures_(without_duplicates(futures)), waiter_(watch_all(futures_)) {
  if (timeout) deadline_ = std::chrono::steady_clock::now() + *timeout;
}

std::optional<TaskFuture> AsCompleted::next() {
  if (yielded_ == futures_.size()) return std::nullopt;
  std::unique_lock<std::mutex> lock(waiter_->m);
  auto ready = [&] { return !waiter_->done.empty(); };
  if (!deadline_) {
    waiter_->cv.wait(lock, ready);
  } else if (!waiter_->cv.wait_until(lock, *deadline_, ready)) {
    throw TimeoutError("as_completed: " + std::to_string(futures_.size() - yielded_) + " of " +
                           std::to_string(futures_.size()) + " futures not done within the timeout",
                       {});
  }
  const std::size_t i = waiter_->done.front();
  waiter_->done.pop_front();
  ++yielded_;
  return futures_[i];
}

AsCompleted as_completed(const std::vector<TaskFuture>& futures, std::optional<std::chrono::nanoseconds> timeout) {
  return AsCompleted(futures, timeout);
}

}  // namespace procpool
