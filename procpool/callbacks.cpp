#include <cstdio>
#include <exception>
#include <future>
#include <memory>

#include "procpool/task_state.hpp"

namespace procpool::detail {

CallbackRunner::CallbackRunner() : thread_([this] { run(); }) {}

CallbackRunner::~CallbackRunner() {
  {
    std::lock_guard<std::mutex> lock(m_);
    ending_ = true;
  }
  cv_.notify_all();
  // The last owner may be a callback itself (it held the last future): the thread then
  // ends on its own after this job.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void CallbackRunner::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(m_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void CallbackRunner::drain() {
  if (thread_.get_id() == std::this_thread::get_id()) return;
  auto ran = std::make_shared<std::promise<void>>();  // held by the job: it may outlive a timed-out wait
  std::future<void> done = ran->get_future();
  post([ran] { ran->set_value(); });
  done.wait();
}

void CallbackRunner::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(m_);
      cv_.wait(lock, [this] { return ending_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // A callback that throws is the caller's bug, reported; the others still run.
    try {
      job();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "procpool: a done callback threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "procpool: a done callback threw something not a std::exception\n");
    }
  }
}

void complete(TaskState& state, std::vector<Result> results) {
  for (std::size_t i = 0; i < results.size(); ++i) results[i].index = state.first_index + i;
  if (state.stream) {
    std::lock_guard<std::mutex> lock(state.stream->m);
    for (const Result& r : results) state.stream->ready.push_back(r);
    state.stream->cv.notify_all();
  }
  std::vector<std::pair<std::weak_ptr<Waiter>, std::size_t>> waiters;
  std::vector<std::function<void(const Result&)>> callbacks;
  {
    std::lock_guard<std::mutex> lock(state.m);
    state.results = std::move(results);
    state.done = true;
    state.done_flag.store(true, std::memory_order_release);
    waiters.swap(state.waiters);
    callbacks.swap(state.callbacks);
  }
  state.cv.notify_all();
  for (const auto& [weak, position] : waiters) {
    const std::shared_ptr<Waiter> waiter = weak.lock();
    if (!waiter) continue;
    {
      std::lock_guard<std::mutex> lock(waiter->m);
      waiter->done.push_back(position);
    }
    waiter->cv.notify_all();
  }
  if (!callbacks.empty() && state.runner) {
    // After done is set, under no lock: results no longer change, so a copy is safe.
    const Result first = state.results.front();
    for (auto& fn : callbacks) state.runner->post([fn = std::move(fn), first] { fn(first); });
  }
}

bool watch(TaskState& state, const std::shared_ptr<Waiter>& waiter, std::size_t position) {
  std::lock_guard<std::mutex> lock(state.m);
  if (state.done) return true;
  state.waiters.emplace_back(waiter, position);
  return false;
}

}  // namespace procpool::detail
