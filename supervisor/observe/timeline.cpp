#include "supervisor/observe/timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "supervisor/observe/report.hpp"

namespace procpool::supervisor {

namespace {

using L = TimelineLayout;

const char* const kPalette[] = {"#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#bab0ac"};
constexpr const char* kErrorColour = "#e15759";
constexpr const char* kDeathColour = "#d62728";
constexpr const char* kCrashColour = "#7f0000";
constexpr const char* kTimeoutColour = "#f28e2b";

// ok: the kind's colour; the ways a task can fail, one colour each.
const char* status_colour(const std::string& status, const char* kind_colour) {
  if (status == "ok") return kind_colour;
  if (status == "crashed") return kCrashColour;
  if (status == "timeout") return kTimeoutColour;
  return kErrorColour;
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// A tick step of 1, 2 or 5 x 10^k ms giving about 8 ticks.
double tick_step(double total_ms) {
  const double raw = std::max(total_ms / 8, 1e-3);
  const double base = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (base * m >= raw) return base * m;
  return base * 10;
}

std::string tick_label(double ms, double step) {
  char buf[32];
  if (step >= 1000) {
    std::snprintf(buf, sizeof buf, "%g s", ms / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%g ms", ms);
  }
  return buf;
}

}  // namespace

double timeline_x(double ms, double total_ms) {
  const double plot = L::kWidth - L::kLeft - L::kRight;
  return L::kLeft + plot * std::clamp(ms / std::max(total_ms, 1e-9), 0.0, 1.0);
}

int timeline_lane_top(int index) { return L::kTop + index * (L::kLaneHeight + L::kLaneGap); }

std::string render_timeline_svg(const std::vector<TimelineTask>& tasks, const std::string& title) {
  using Lane = std::pair<std::string, int>;  // host, slot
  std::set<Lane> slots;
  std::map<std::string, int> kinds;  // kind -> colour index, in order of appearance
  std::map<std::string, uint64_t> statuses;
  double total = 0;
  for (const TimelineTask& t : tasks) {
    ++statuses[t.status];
    if (!kinds.count(t.kind)) kinds.emplace(t.kind, static_cast<int>(kinds.size()));
    if (t.worker >= 0) slots.insert({t.host, t.worker});
    total = std::max(total, t.end_ms);
  }
  if (total <= 0) total = 1;
  std::set<std::string> hosts;
  for (const Lane& s : slots)
    if (!s.first.empty()) hosts.insert(s.first);
  const std::string on_hosts = hosts.empty() ? "" : " on " + counted(hosts.size(), "host");
  std::map<Lane, int> lane_of;
  for (const Lane& s : slots) lane_of.emplace(s, static_cast<int>(lane_of.size()));
  const int lanes = std::max<int>(1, static_cast<int>(slots.size()));
  const int height = timeline_lane_top(lanes) + L::kAxisHeight;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(L::kWidth) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(L::kWidth) + " " +
                    std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  // Title: the totals.
  std::string totals = counted(tasks.size(), "task");
  for (const auto& [status, n] : statuses) totals += ", " + std::to_string(n) + " " + status;
  char wall[64];
  std::snprintf(wall, sizeof wall, ", %.3f s", total / 1000);
  svg += "<text x=\"" + std::to_string(L::kLeft) + "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" +
         escape(title + ": " + totals + ", " + counted(slots.size(), "worker") + on_hosts + wall) + "</text>\n";
  // Legend.
  int lx = L::kLeft;
  auto legend = [&](const std::string& colour, const std::string& label, bool mark) {
    if (mark) {
      svg += "<path d=\"M" + std::to_string(lx) + " 32 l10 10 m0 -10 l-10 10\" stroke=\"" + colour +
             "\" stroke-width=\"2\"/>\n";
    } else {
      svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"32\" width=\"10\" height=\"10\" fill=\"" + colour + "\"/>\n";
    }
    svg += "<text x=\"" + std::to_string(lx + 14) + "\" y=\"41\">" + escape(label) + "</text>\n";
    lx += 24 + 7 * static_cast<int>(label.size());
  };
  for (const auto& [kind, index] : kinds) legend(kPalette[index % 8], kind, false);
  legend(kErrorColour, "error", false);
  if (statuses.count("crashed")) legend(kCrashColour, "crashed its worker", false);
  if (statuses.count("timeout")) legend(kTimeoutColour, "timed out, killed", false);
  legend(kDeathColour, "worker died, replaced", true);

  // Lanes.
  for (const auto& [slot, lane] : lane_of) {
    const int y = timeline_lane_top(lane);
    // A host's name (HOSTNAME:INSTANCE) cut to its end, what the label column holds and
    // tells hosts of one machine apart; the full one in its tooltip.
    const std::string& host = slot.first;
    const std::string label = host.empty() ? "worker " + std::to_string(slot.second)
                                           : (host.size() > 9 ? host.substr(host.size() - 9) : host) + " #" +
                                                 std::to_string(slot.second);
    svg += "<rect x=\"" + std::to_string(L::kLeft) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           std::to_string(L::kWidth - L::kLeft - L::kRight) + "\" height=\"" + std::to_string(L::kLaneHeight) +
           "\" fill=\"#f4f4f4\"/>\n";
    svg += "<text x=\"" + std::to_string(L::kLeft - 8) + "\" y=\"" + std::to_string(y + L::kLaneHeight / 2 + 4) +
           "\" text-anchor=\"end\">" + (slot.first.empty() ? "" : "<title>" + escape(slot.first) + "</title>") +
           escape(label) + "</text>\n";
  }
  // Bars, or with very many tasks per-pixel utilisation bands (a tiny bar each would
  // make a huge file that no renderer can show anyway).
  std::size_t timed = 0;
  for (const TimelineTask& t : tasks) timed += t.start_ms >= 0 && t.worker >= 0;
  const double plot = L::kWidth - L::kLeft - L::kRight;
  if (timed <= L::kMaxBars) {
    for (const TimelineTask& t : tasks) {
      if (t.start_ms < 0 || t.worker < 0) continue;
      const double x0 = timeline_x(t.start_ms, total);
      const double w = std::max(timeline_x(t.end_ms, total) - x0, 0.5);
      const char* fill = status_colour(t.status, kPalette[kinds[t.kind] % 8]);
      svg += "<rect x=\"" + num(x0) + "\" y=\"" + std::to_string(timeline_lane_top(lane_of[{t.host, t.worker}]) + 3) +
             "\" width=\"" + num(w) + "\" height=\"" + std::to_string(L::kLaneHeight - 6) + "\" fill=\"" + fill +
             "\" fill-opacity=\"0.85\" stroke=\"#ffffff\" stroke-width=\"0.3\"><title>" +
             escape(t.kind + " " + t.status + " " + num(t.start_ms) + "-" + num(t.end_ms) + " ms") + "</title></rect>\n";
    }
  } else {
    const int columns = static_cast<int>(plot);
    std::map<int, std::vector<double>> busy;  // lane -> busy ms per column
    const double per_column = total / columns;
    for (const TimelineTask& t : tasks) {
      if (t.start_ms < 0 || t.worker < 0) continue;
      auto& b = busy[lane_of[{t.host, t.worker}]];
      if (b.empty()) b.assign(static_cast<std::size_t>(columns), 0.0);
      for (int c = std::max(0, static_cast<int>(t.start_ms / per_column));
           c < columns && c * per_column < t.end_ms; ++c)
        b[static_cast<std::size_t>(c)] += std::min(t.end_ms, (c + 1) * per_column) - std::max(t.start_ms, c * per_column);
    }
    for (const auto& [lane, b] : busy) {
      for (int c = 0; c < columns; ++c) {
        const double u = std::min(1.0, b[static_cast<std::size_t>(c)] / per_column);
        if (u <= 0) continue;
        const int h = std::max(1, static_cast<int>(std::lround(u * (L::kLaneHeight - 6))));
        svg += "<rect x=\"" + std::to_string(L::kLeft + c) + "\" y=\"" +
               std::to_string(timeline_lane_top(lane) + 3 + (L::kLaneHeight - 6 - h)) + "\" width=\"1\" height=\"" +
               std::to_string(h) + "\" fill=\"" + kPalette[0] + "\"/>\n";
      }
    }
  }
  // A worker's death: where a lane's pid changes, at the last end of the old one.
  std::map<int, std::vector<std::pair<double, int64_t>>> runs;  // lane -> (start, pid)
  std::map<std::pair<int, int64_t>, double> last_end;
  for (const TimelineTask& t : tasks) {
    if (t.start_ms < 0 || t.worker < 0) continue;
    const int lane = lane_of[{t.host, t.worker}];
    runs[lane].emplace_back(t.start_ms, t.pid);
    double& e = last_end[{lane, t.pid}];
    e = std::max(e, t.end_ms);
  }
  for (auto& [lane, r] : runs) {
    std::sort(r.begin(), r.end());
    for (std::size_t i = 1; i < r.size(); ++i) {
      if (r[i].second == r[i - 1].second) continue;
      const double x = timeline_x(last_end[{lane, r[i - 1].second}], total);
      const int y = timeline_lane_top(lane);
      svg += "<path d=\"M" + num(x - 5) + " " + std::to_string(y - 2) + " l10 10 m0 -10 l-10 10\" stroke=\"" +
             kDeathColour + "\" stroke-width=\"2\"><title>worker " + std::to_string(r[i - 1].second) +
             " ended; " + std::to_string(r[i].second) + " took over</title></path>\n";
    }
  }
  // Time axis.
  const int axis_y = timeline_lane_top(lanes) + 4;
  svg += "<line x1=\"" + std::to_string(L::kLeft) + "\" y1=\"" + std::to_string(axis_y) + "\" x2=\"" +
         std::to_string(L::kWidth - L::kRight) + "\" y2=\"" + std::to_string(axis_y) + "\" stroke=\"#333\"/>\n";
  const double step = tick_step(total);
  for (int i = 0; i * step <= total + step * 1e-9; ++i) {
    const double t = i * step;
    const double x = timeline_x(t, total);
    svg += "<line x1=\"" + num(x) + "\" y1=\"" + std::to_string(axis_y) + "\" x2=\"" + num(x) + "\" y2=\"" +
           std::to_string(axis_y + 5) + "\" stroke=\"#333\"/>\n";
    svg += "<text x=\"" + num(x) + "\" y=\"" + std::to_string(axis_y + 18) + "\" text-anchor=\"middle\">" +
           tick_label(t, step) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

bool timeline_task_from_json(std::string_view line, TimelineTask* task) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) return false;
  *task = TimelineTask{};
  task->status = j["status"].get<std::string>();
  if (j.contains("kind") && j["kind"].is_string()) task->kind = j["kind"].get<std::string>();
  if (j.contains("worker") && j["worker"].is_number_integer()) task->worker = j["worker"].get<int>();
  if (j.contains("pid") && j["pid"].is_number_integer()) task->pid = j["pid"].get<int64_t>();
  if (j.contains("host") && j["host"].is_string()) task->host = j["host"].get<std::string>();
  if (j.contains("start_ms") && j["start_ms"].is_number() && j.contains("end_ms") && j["end_ms"].is_number()) {
    task->start_ms = j["start_ms"].get<double>();
    task->end_ms = std::max(task->start_ms, j["end_ms"].get<double>());
  }
  return true;
}

}  // namespace procpool::supervisor
