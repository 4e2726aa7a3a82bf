#pragma once
// The picture of a run: one lane per worker slot (of each host, for a run --redis), a bar per task from its start to its
// end, coloured by kind (errors in red), a mark where a worker died and was replaced,
// a time axis, a legend and a title with the totals. Drawn as SVG from the same fields
// as the results JSONL, so any earlier run can be drawn from its file.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace procpool::supervisor {

struct TimelineTask {
  int worker = -1;     // slot; -1: never ran on one (cancelled before it started)
  std::string host;    // the Redis host whose pool ran it; "": this machine's
  int64_t pid = 0;
  double start_ms = -1, end_ms = -1;  // from the run's start; -1: no times (crashed, timeout, cancelled)
  std::string kind;
  std::string status;  // ok, error, crashed, timeout, cancelled
};

// Layout, shared with the tests that look at rendered pixels.
struct TimelineLayout {
  static constexpr int kWidth = 1200;
  static constexpr int kLeft = 90;      // lane labels
  static constexpr int kRight = 20;
  static constexpr int kTop = 60;       // title and legend
  static constexpr int kLaneHeight = 28;
  static constexpr int kLaneGap = 6;
  static constexpr int kAxisHeight = 40;
  // Above this many tasks, bars narrower than a pixel become utilisation bands.
  static constexpr std::size_t kMaxBars = 20000;
};

// x of a time (ms) for a run lasting total_ms.
double timeline_x(double ms, double total_ms);
// y of the top of lane `index` (0-based, in slot order).
int timeline_lane_top(int index);

std::string render_timeline_svg(const std::vector<TimelineTask>& tasks, const std::string& title);

// One result line of a results JSONL file; false if the line is not one.
bool timeline_task_from_json(std::string_view line, TimelineTask* task);

}  // namespace procpool::supervisor
