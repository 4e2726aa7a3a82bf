#pragma once
// When a new task may start, beside a free worker: GNU parallel's --delay (time between
// starts), --memfree (this much memory available) and --load (the 1-minute load average
// under this). While any is set, tasks go only to idle workers (no queue ahead in the
// rings), so a task starts when it is admitted, not when a worker gets to it.
#include <algorithm>
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
  explicit Admission(const AdmissionLimits& limits) : limits_(limits) {}
  bool active() const { return limits_.any(); }
  // Whether a task may start now. Reads /proc at most every 100 ms.
  bool open(uint64_t now_ns);
  void started(uint64_t now_ns) { last_start_ns_ = now_ns; }
  // A task's peak RSS (its worker's high-water mark, which counts the commands it ran and
  // waited for): what waiting_for() says of the tasks' size.
  void finished(uint64_t max_rss_bytes) { peak_bytes_ = std::max(peak_bytes_, max_rss_bytes); }
  // Why tasks wait, "" when they do not: "MemAvailable 3.1 GiB, under --memfree 4 GiB
  // (tasks so far peaked at 0.5 GiB RSS)", and whether one as big could ever fit.
  const std::string& waiting_for() const { return why_; }

 private:
  AdmissionLimits limits_;
  uint64_t last_start_ns_ = 0;
  uint64_t read_ns_ = 0;
  uint64_t peak_bytes_ = 0;
  bool system_ok_ = true;
  std::string why_;
};

// "" when a task that peaked at peak_bytes fits beside --memfree's reserve on a machine
// of total_bytes, else what to tell the user: with one that big running, less than the
// reserve is left, so no other task starts beside it, and it may itself not fit.
std::string memfree_fit_note(uint64_t peak_bytes, uint64_t memfree_bytes, uint64_t total_bytes);

// MemAvailable and MemTotal of /proc/meminfo in bytes (0 if unreadable).
uint64_t memory_available();
uint64_t memory_total();

}  // namespace procpool::supervisor
