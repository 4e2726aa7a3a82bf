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
  // After a task, with none running: sweeps at most once per kPeriodNs (a no-op task
  // must not pay a system call each), or now with force (before the worker sleeps).
  void after_task(uint64_t now_ns, bool force = false);

 private:
  static constexpr uint64_t kPeriodNs = 1'000'000;
  void sweep();
  std::vector<pid_t> kept_;
  uint64_t last_ns_ = 0;
};

}  // namespace procpool
