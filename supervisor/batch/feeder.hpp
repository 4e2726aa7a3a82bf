#pragma once
// The batch job's intake as the pool's Remote (engine/supervisor.hpp): a thread of its
// own reads the inputs (an InputFeed) into a bounded queue, and the pool's loop takes from
// that queue whenever fewer than a read-ahead's worth of its tasks are unfinished. Memory
// so holds at most the queue and the read-ahead, however long the input, and an input
// that arrives on a pipe is a task at once (the reader rings the loop's eventfd).
//
// Threads: the reader fills queue_ under mu_ and waits on room_ while it is full; the
// loop thread empties it under mu_ in take(). available_ mirrors queue_.size() for the
// loop's look without the lock (has_posts); a stale look costs a loop turn, never a task:
// every push rings wake_fd_ (and then sets rung_), which take() drains before it looks
// under the lock.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "supervisor/batch/input_stream.hpp"
#include "supervisor/engine/supervisor.hpp"

namespace procpool::supervisor {

class Feeder final : public Remote {
 public:
  // submit turns an input into a task of pool (loop thread), queued at queued_ns (one
  // reading of the clock for a batch taken at once).
  using Submit = std::function<void(Supervisor& pool, NumberedInput&& input, uint64_t queued_ns)>;
  Feeder(InputFeed& feed, Submit submit, uint64_t read_ahead);
  ~Feeder() override;  // stops the reading and joins the thread
  Feeder(const Feeder&) = delete;
  Feeder& operator=(const Feeder&) = delete;

  // Inputs taken before the pool starts (run's first batch), given to it first.
  void push_front(std::vector<NumberedInput> inputs);
  void start();  // starts reading the rest on its own thread
  void stop();   // any thread: no more is read; what was read and not taken is dropped
  // Why reading stopped early (a read error, an input the kind refused), "" if it did
  // not. What was read before it still runs; the run then ends with this error.
  std::string error() const;
  // True once the reading ended and every input read was given to the pool.
  bool all_taken() const;

  int wake_fd() const override { return wake_fd_; }
  bool take(Supervisor& pool) override;
  bool has_posts() const override;
  bool prepare_sleep() override { return has_posts(); }
  void woke() override {}
  bool finished(const Supervisor& pool) const override;

 private:
  void read_all();

  InputFeed& feed_;
  Submit submit_;
  const uint64_t read_ahead_;
  int wake_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<NumberedInput> queue_;  // guarded by mu_
  std::size_t queued_bytes_ = 0;     // guarded by mu_
  bool reading_done_ = false;        // guarded by mu_: the feed said no more
  bool stopped_ = false;             // guarded by mu_
  std::string error_;                // guarded by mu_
  std::atomic<std::size_t> available_{0};
  std::atomic<bool> rung_{false};  // wake_fd_ was rung since take() last drained it
  const Supervisor* pool_ = nullptr;  // loop thread: the pool take() last fed
};

}  // namespace procpool::supervisor
