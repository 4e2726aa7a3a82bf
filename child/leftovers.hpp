#pragma once
// What a task leaves behind: processes it started and did not wait for. A worker is a
// child subreaper (so orphans of its tasks' processes come back to it instead of init),
// and once no task runs it kills and reaps every child of its own, as systemd's
// KillMode=control-group does when a service stops: nothing a task starts outlives it.
// Processes the kinds started while loading (a helper a plugin keeps) are spared.
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace procpool {

class Leftovers {
 public:
  // Makes this process a subreaper; its children now are the kinds' own, kept.
  void keep_current();
  // After a task, with none running. A task that ran kLongNs or more (anything that
  // starts a process does) is swept after at once; shorter ones at most once per
  // kPeriodNs, so that a no-op task does not pay a system call each.
  void after_task(uint64_t now_ns, uint64_t ran_ns);
  // Before the worker sleeps.
  void before_sleep(uint64_t now_ns);

 private:
  static constexpr uint64_t kPeriodNs = 1'000'000;
  static constexpr uint64_t kLongNs = 50'000;
  void sweep();
  std::vector<pid_t> kept_;
  uint64_t last_ns_ = 0;
};

}  // namespace procpool
