#include "supervisor/batch/feeder.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "ipc/clock.hpp"
#include "ipc/eventfd.hpp"

namespace procpool::supervisor {

namespace {
// What the reader holds ahead of the pool: enough to refill every worker's queue many
// times over, little enough that a run over a hundred million lines stays small.
constexpr std::size_t kQueueInputs = 4096;
constexpr std::size_t kQueueBytes = 4 << 20;
}  // namespace

Feeder::Feeder(InputFeed& feed, Submit submit, uint64_t read_ahead)
    : feed_(feed), submit_(std::move(submit)), read_ahead_(read_ahead) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Feeder::~Feeder() {
  stop();
  if (reader_.joinable()) reader_.join();
  ::close(wake_fd_);
}

void Feeder::push_front(std::vector<NumberedInput> inputs) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = inputs.rbegin(); it != inputs.rend(); ++it) {
    queued_bytes_ += it->value.size();
    queue_.push_front(std::move(*it));
  }
  available_.store(queue_.size(), std::memory_order_relaxed);
}

void Feeder::start() { reader_ = std::thread([this] { read_all(); }); }

void Feeder::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  room_.notify_all();
  feed_.stop();
}

void Feeder::read_all() {
  for (;;) {
    std::vector<NumberedInput> batch;
    bool more = false;
    std::string error;
    try {
      more = feed_.next(batch);
    } catch (const std::exception& e) {
      error = e.what();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      room_.wait(lock, [&] { return stopped_ || (queue_.size() < kQueueInputs && queued_bytes_ < kQueueBytes); });
      if (stopped_) return;
      for (NumberedInput& input : batch) {
        queued_bytes_ += input.value.size();
        queue_.push_back(std::move(input));
      }
      available_.store(queue_.size(), std::memory_order_relaxed);
      if (!more) {
        reading_done_ = true;
        error_ = std::move(error);
      }
    }
    // After the unlock, so the loop finds the batch under the lock; the flag after the
    // ring (see take()).
    ipc::eventfd_ring(wake_fd_);
    rung_.store(true, std::memory_order_release);
    if (!more) return;
  }
}

bool Feeder::take(Supervisor& pool) {
  pool_ = &pool;
  // The eventfd is read only after a ring (a system call per loop turn otherwise). Each
  // ring is followed by rung_ = true, so an eventfd left readable with rung_ false lasts
  // only until that store (the loop turns at once meanwhile, then drains it), and a ring
  // after this drain stays readable until the drain that follows its flag. Drained before
  // the look under the lock: a push after the look rings again.
  if (rung_.exchange(false, std::memory_order_acquire)) ipc::eventfd_drain(wake_fd_);
  if (pool.stopping()) {
    stop();
    return false;
  }
  std::vector<NumberedInput> taking;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t unfinished = pool.unfinished();
    if (unfinished >= read_ahead_ || queue_.empty()) return false;
    const std::size_t n = std::min<uint64_t>(queue_.size(), read_ahead_ - unfinished);
    taking.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      queued_bytes_ -= queue_.front().value.size();
      taking.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    available_.store(queue_.size(), std::memory_order_relaxed);
  }
  room_.notify_one();
  const uint64_t now = ipc::monotonic_ns();
  for (NumberedInput& input : taking) submit_(pool, std::move(input), now);
  return true;
}

bool Feeder::has_posts() const {
  return available_.load(std::memory_order_relaxed) != 0 && pool_ != nullptr && !pool_->stopping() &&
         pool_->unfinished() < read_ahead_;
}

bool Feeder::finished(const Supervisor& pool) const {
  if (pool.unfinished() != 0) return false;
  if (pool.stopping()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return reading_done_ && queue_.empty();
}

bool Feeder::all_taken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reading_done_ && queue_.empty();
}

std::string Feeder::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace procpool::supervisor
