#pragma once
// serve's side of a Redis queue: jobs claimed by the Host become tasks of the pool; when
// every task of a job has its result, the job's one result goes back through the Host.
// Loop thread only (the Host's own thread does the talking to Redis).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "supervisor/engine/supervisor.hpp"
#include "supervisor/redis/host.hpp"

namespace procpool::supervisor::redis {

class Intake {
 public:
  Intake(HostSettings settings, std::function<void(int, const std::string&)> log);
  int wake_fd() const { return host_.wake_fd(); }
  // The pool's kind for a job's kind and options, or -1 with why it cannot run here.
  using KindFor = std::function<int(const std::string& kind, const KindOptions& options, std::string* why)>;
  // The Host's jobs become tasks (of the kind kind_for gives); lost entries' tasks that
  // have not started are cancelled.
  void take(Supervisor& pool, const KindFor& kind_for);
  // A result of the pool; false if the task is not one of ours. line: its result line;
  // stopping: the pool is draining (then a cancelled task means "never ran": hand back).
  bool on_result(const Completion& c, const std::string& line, bool stopping);
  // The pool is stopping (SIGTERM): claim nothing more; jobs whose tasks get cancelled
  // before they ran are handed back whole, uncharged.
  void stopping();
  // Every job answered or handed back, and sent.
  bool flushed() const { return jobs_.empty() && host_.idle(); }

 private:
  struct Running {
    Job job;
    std::vector<std::string> results;  // result lines, in input order
    std::vector<uint64_t> tasks;
    std::size_t remaining = 0;
    bool interrupted = false;  // a task was cancelled at shutdown: hand the entry back
  };
  void complete(uint64_t key);

  Host host_;
  bool stopping_ = false;
  uint64_t next_key_ = 0;
  std::map<uint64_t, Running> jobs_;
  std::unordered_map<std::string, uint64_t> by_entry_;
  std::unordered_map<uint64_t, std::pair<uint64_t, std::size_t>> routes_;  // task -> (job, index)
};

}  // namespace procpool::supervisor::redis
