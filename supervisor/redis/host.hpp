#pragma once
// One procpool host of a Redis Streams queue (docs/SCALE_OUT.md): a thread of its own
// claims entries for the pool, keeps their lease, takes over entries of lost hosts, and
// delivers each job's one result. The pool's event loop takes the claimed jobs and hands
// back finished ones; only this thread talks to Redis.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipc/kind_options.hpp"
#include "supervisor/redis/client.hpp"
#include "supervisor/redis/queue.hpp"

namespace procpool::supervisor::redis {

struct HostSettings {
  std::string address = "127.0.0.1:6379";
  std::string queue = "default";
  std::string consumer;             // stable per host and instance: "hostname:instance"
  uint64_t lease_ms = 30'000;       // an entry of a host silent this long is taken over
  unsigned max_attempts = 3;        // lost hosts an entry survives, unless it says otherwise
  uint64_t done_ttl_s = 86'400;     // how long a job's "answered" mark is kept
  std::size_t max_entries = 64;     // entries held at once (each a chunk of tasks)
};

// A claimed entry, for the loop to run.
struct Job : Entry {
  std::string entry;  // its stream id
};

class Host {
 public:
  // log(level, message): level 0 info, 1 warning, 2 error; called from the Redis thread.
  Host(HostSettings settings, std::function<void(int, const std::string&)> log);
  ~Host();  // stops the thread (entries held and not finished stay pending: taken over later)
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  int wake_fd() const { return wake_fd_; }  // readable when jobs or lost entries wait
  // Loop thread.
  std::vector<Job> take_jobs();
  std::vector<std::string> take_lost();  // entries no longer ours: their results would be dropped
  // The job's result object (JSON text); the entry is acknowledged with it.
  void finish(const Job& job, std::string result);
  // SIGTERM: stop claiming; hand back the given entries (claimed, not started) at once.
  void hand_back(std::vector<std::string> entries);
  // No entry held any more, and nothing left to send.
  bool idle() const;
  const HostSettings& settings() const { return settings_; }

 private:
  struct Finish {
    Job job;
    std::string result;
    std::string cause;  // non-empty: to the dead-letter stream too
  };
  void run();
  void cycle(Client& redis);
  void read_new(Client& redis);
  void take_over(Client& redis);
  void renew(Client& redis);
  void send_finishes(Client& redis);
  bool parse_entry(const Reply& entry, Job* job, std::string* why) const;
  void post(std::vector<Job> jobs, std::vector<std::string> lost);

  HostSettings settings_;
  std::function<void(int, const std::string&)> log_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Job> inbox_;
  std::vector<std::string> lost_;
  std::deque<Finish> outbox_;
  std::vector<std::string> release_;
  bool claiming_ = true;
  // Redis thread only:
  std::set<std::string> held_;  // entry ids claimed and not finished
  std::atomic<std::size_t> held_count_{0};
  bool own_pending_first_ = true;
  std::string pending_cursor_ = "0";  // where the reading of our own pending entries is
  uint64_t last_renew_ms_ = 0, last_takeover_ms_ = 0;
};

}  // namespace procpool::supervisor::redis
