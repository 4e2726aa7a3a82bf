#pragma once
// What a batch run tells its user: a JSON line per result, a progress bar while stderr
// is a terminal, and a summary at the end.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ipc/kind_schema.hpp"
#include "supervisor/observe/durations.hpp"
#include "supervisor/observe/result_line.hpp"
#include "supervisor/engine/supervisor.hpp"

namespace procpool::supervisor {


// "850 ns", "12.3 µs", "4.56 ms", "1.23 s"
std::string format_duration(uint64_t ns);

// "1 task", "2 tasks"
std::string counted(uint64_t n, const std::string& noun);

// An estimate to the second, as a bar shows it: "<1s", "42s", "3m05s", "2h10m".
std::string format_eta(double seconds);

// The p-th percentile (0..100) of values, nearest-rank; 0 for none. Reorders values.
uint64_t percentile(std::vector<uint64_t>& values, double p);

class RunStats {
 public:
  explicit RunStats(uint64_t start_ns) : start_ns_(start_ns) {}
  void add(const Completion& c);
  uint64_t done() const { return done_; }
  uint64_t count(ipc::Status s) const { return by_status_[static_cast<int>(s)]; }
  bool all_ok() const { return done_ == count(ipc::Status::ok); }
  // The multi-line summary, ending in a newline.
  std::string summary(uint64_t total, uint64_t end_ns, const std::vector<WorkerStats>& workers,
                      uint64_t restarts);
  // Its first lines: counts by status, rate, wait and run percentiles.
  std::string summary_head(uint64_t total, uint64_t end_ns);
  // Its last lines: the first few tasks that were not ok, each with its input and why, then
  // "... and N more".
  std::string failure_lines() const;
  // One progress line (no newline), e.g. "[=====>    ]  120/500  24%  310/s  ETA 1s".
  // total_known false: more tasks may come (the input is still being read): the line
  // says "N/M+" and gives no share or ETA.
  std::string progress_line(uint64_t total, uint64_t now_ns, bool total_known = true) const;

 private:
  uint64_t start_ns_;
  uint64_t done_ = 0;
  uint64_t by_status_[ipc::kStatusCount] = {};
  Durations wait_ns_, run_ns_;  // bounded however many tasks ran
  static constexpr std::size_t kFailuresShown = 5;
  static std::string failure_line(const Completion& c);
  uint64_t failed_ = 0;
  std::vector<std::string> failures_;  // the first kFailuresShown, for the summary
};

// A reducer's answer on stdout, when any task was ok: a total of nothing ("0 words" of a
// run whose every download failed) would read as an answer. When some were not ok, stderr
// says what the answer covers.
void print_reduced(Reducer& reducer, const RunStats& stats);

}  // namespace procpool::supervisor
