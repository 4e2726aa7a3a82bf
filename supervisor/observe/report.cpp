#include "supervisor/observe/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace procpool::supervisor {


namespace {

// At most max bytes of text and "...", cut between UTF-8 characters.
std::string shortened(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}


std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
}  // namespace

std::string format_duration(uint64_t ns) {
  if (ns < 1'000) return std::to_string(ns) + " ns";
  if (ns < 1'000'000) return fixed(static_cast<double>(ns) / 1e3, 1) + " µs";
  if (ns < 1'000'000'000) return fixed(static_cast<double>(ns) / 1e6, 2) + " ms";
  return fixed(static_cast<double>(ns) / 1e9, 2) + " s";
}

std::string counted(uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string format_eta(double seconds) {
  if (seconds < 1) return "<1s";
  const auto s = static_cast<uint64_t>(std::lround(seconds));
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + (s / 60 % 60 < 10 ? "0" : "") + std::to_string(s / 60 % 60) + "m";
}

uint64_t percentile(std::vector<uint64_t>& values, double p) {
  if (values.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
  return values[rank];
}

void RunStats::add(const Completion& c) {
  ++done_;
  ++by_status_[static_cast<int>(c.status)];
  if (c.start_ns != 0) {
    wait_ns_.add(c.start_ns > c.queued_ns ? c.start_ns - c.queued_ns : 0);
    run_ns_.add(c.end_ns - c.start_ns);
  }
  if (c.status == ipc::Status::ok) return;
  ++failed_;
  if (failures_.size() < kFailuresShown) failures_.push_back(failure_line(c));
}

std::string RunStats::failure_line(const Completion& c) {
  // A one-line cause: the first line of the message, cut where it would run on.
  const std::string why = shortened(std::string_view(c.output).substr(0, c.output.find('\n')), 160);
  const std::string input = shortened(c.input, 80);
  // Most messages start with the input already ("photo.jpg: no such file").
  const bool named = !c.input.empty() && why.compare(0, c.input.size(), c.input) == 0;
  return std::string(ipc::status_name(c.status)) + " task " + std::to_string(c.id) +
         (named ? "" : " (" + input + ")") + (why.empty() ? "" : ": " + why);
}

std::string RunStats::summary(uint64_t total, uint64_t end_ns, const std::vector<WorkerStats>& workers,
                              uint64_t restarts) {
  const uint64_t wall = std::max<uint64_t>(end_ns - start_ns_, 1);
  std::string out = summary_head(total, end_ns);
  out += "  workers:";
  for (const WorkerStats& w : workers)
    out += " #" + std::to_string(w.slot) + " " + fixed(100.0 * static_cast<double>(w.busy_ns) / wall, 0) + "% busy (" +
           counted(w.tasks, "task") + (w.restarts ? ", " + counted(w.restarts, "restart") : "") + ")";
  out += "\n  restarts: " + std::to_string(restarts) + "\n";
  return out + failure_lines();
}

std::string RunStats::failure_lines() const {
  std::string out;
  for (const std::string& failure : failures_) out += "  " + failure + "\n";
  if (failed_ > failures_.size()) out += "  ... and " + std::to_string(failed_ - failures_.size()) + " more\n";
  return out;
}

std::string RunStats::summary_head(uint64_t total, uint64_t end_ns) {
  const uint64_t wall = std::max<uint64_t>(end_ns - start_ns_, 1);
  // The rate counts the tasks that ran to an end, not those cancelled before they did.
  const uint64_t finished = done_ - count(ipc::Status::cancelled);
  std::string out = "procpool: " + std::to_string(done_) + " of " + counted(total, "task") + " in " +
                    format_duration(wall) + " (" + fixed(static_cast<double>(finished) * 1e9 / wall, 1) + " tasks/s):";
  for (int s = 0; s < ipc::kStatusCount; ++s)
    if (by_status_[s] != 0 || s == 0)
      out += " " + std::to_string(by_status_[s]) + " " + ipc::status_name(ipc::status_at(s)) + ",";
  out.back() = '\n';
  auto line = [&](const char* name, Durations& v) {
    out += std::string("  ") + name + "  p50 " + format_duration(v.percentile(50)) + "  p95 " +
           format_duration(v.percentile(95)) + "  p99 " + format_duration(v.percentile(99)) + "\n";
  };
  if (!run_ns_.empty()) {
    line("wait", wait_ns_);
    line("run ", run_ns_);
  }
  return out;
}

void print_reduced(Reducer& reducer, const RunStats& stats) {
  const uint64_t ok = stats.count(ipc::Status::ok);
  if (ok == 0) {
    std::fputs("procpool: no task was ok: nothing to add up\n", stderr);
    return;
  }
  if (ok != stats.done())
    std::fprintf(stderr, "procpool: the answer covers only the tasks that were ok: %llu of %llu\n",
                 static_cast<unsigned long long>(ok), static_cast<unsigned long long>(stats.done()));
  std::fputs(reducer.finish().c_str(), stdout);
}

std::string RunStats::progress_line(uint64_t total, uint64_t now_ns, bool total_known) const {
  constexpr int kWidth = 30;
  const double frac = total ? static_cast<double>(done_) / static_cast<double>(total) : 1.0;
  const int filled = total_known ? static_cast<int>(frac * kWidth) : 0;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<std::size_t>(kWidth - filled - 1), ' ');
  const double secs = static_cast<double>(now_ns - start_ns_) / 1e9;
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  const std::string count = "] " + std::to_string(done_) + "/" + std::to_string(total);
  if (!total_known) return "[" + bar + count + "+ " + fixed(rate, 1) + "/s (reading inputs)";
  std::string eta = "?";
  if (rate > 0) eta = format_eta(static_cast<double>(total - done_) / rate);
  return "[" + bar + count + " " + fixed(frac * 100, 0) + "% " + fixed(rate, 1) + "/s ETA " + eta;
}

}  // namespace procpool::supervisor
