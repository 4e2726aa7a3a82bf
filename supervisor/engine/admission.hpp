#pragma once
// When a new task may start, beside a free worker: GNU parallel's --delay (time between
// starts), --memfree (this much memory available) and --load (the 1-minute load average
// under this). While any is set, tasks go only to idle workers (no queue ahead in the
// rings), so a task starts when it is admitted, not when a worker gets to it.
#include <cstdint>
#include <string>

namespace procpool::supervisor {

struct AdmissionLimits {
  uint64_t delay_ns = 0;      // between two starts; 0: none
  uint64_t memfree_bytes = 0;  // MemAvailable at least this; 0: none
  double max_load = 0;        // loadavg under this; 0: none
  bool any() const { return delay_ns != 0 || memfree_bytes != 0 || max_load > 0; }
};

class Admission {
 public:
  explicit Admission(AdmissionLimits limits) : limits_(limits) {}
  bool active() const { return limits_.any(); }
  // Whether a task may start now. Reads /proc at most every 100 ms.
  bool open(uint64_t now_ns);
  void started(uint64_t now_ns) { last_start_ns_ = now_ns; }
  // Why tasks wait, "" when they do not: "MemAvailable 3.1 GiB, under --memfree 4 GiB".
  const std::string& waiting_for() const { return why_; }

 private:
  AdmissionLimits limits_;
  uint64_t last_start_ns_ = 0;
  uint64_t read_ns_ = 0;
  bool system_ok_ = true;
  std::string why_;
};

// MemAvailable and MemTotal of /proc/meminfo in bytes (0 if unreadable).
uint64_t memory_available();
uint64_t memory_total();

}  // namespace procpool::supervisor
