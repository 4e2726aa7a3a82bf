#include "supervisor/observe/status.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.hpp"
#include "ipc/records.hpp"
#include "ipc/segment.hpp"
#include "supervisor/engine/proc_info.hpp"
#include "supervisor/observe/report.hpp"

namespace procpool::supervisor {

namespace {

using nlohmann::json;

struct Found {
  std::string name;
  pid_t pid = 0;
};

// This user's segments whose supervisor is alive (pid 0: all of them).
std::vector<Found> find_pools(pid_t only) {
  std::vector<Found> out;
  const std::string prefix = ipc::segment_prefix();
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + prefix.size(), nullptr, 10));
    if (pid <= 0 || (only != 0 && pid != only)) continue;
    if (kill(pid, 0) != 0 && errno == ESRCH) continue;  // stale
    out.push_back({name, pid});
  }
  closedir(dir);
  return out;
}

// Everything shown, read once (relaxed loads of values each written by one side).
json snapshot(const Found& f) {
  const auto seg = ipc::Segment::attach(f.name, /*read_only=*/true);
  const ipc::SegmentHeader& h = seg->header();
  const ipc::PoolStats& st = seg->stats();
  const uint64_t now = ipc::monotonic_ns();
  const double up_s = static_cast<double>(now - h.created_ns) / 1e9;
  json pool;
  pool["pid"] = f.pid;
  pool["uptime_s"] = up_s;
  pool["containment"] = std::string(h.containment, strnlen(h.containment, sizeof h.containment));
  pool["submitted"] = st.submitted.load(std::memory_order_relaxed);
  pool["queued"] = st.queued.load(std::memory_order_relaxed);
  pool["restarts"] = st.restarts.load(std::memory_order_relaxed);
  pool["rate_per_s"] = static_cast<double>(st.rate_milli.load(std::memory_order_relaxed)) / 1000.0;
  json done = json::object();
  uint64_t finished = 0;
  for (int s = 0; s < ipc::kStatusCount; ++s) {
    const uint64_t n = st.done[s].load(std::memory_order_relaxed);
    done[ipc::status_name(ipc::status_at(s))] = n;
    finished += n;
  }
  pool["done"] = done;
  json workers = json::array();
  uint64_t running = 0;
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    const ipc::SlotView v = seg->slot(i);
    const ipc::SlotControl& c = *v.control;
    // Room for growth that was never used, or left when a reload shrank the pool.
    if (c.generation() == 0 || c.state() == ipc::ChildState::Retired) continue;
    json w;
    w["slot"] = i;
    const pid_t pid = c.pid();
    w["pid"] = pid;
    w["generation"] = c.generation();
    const std::optional<ipc::RunningTask> task = c.running();
    w["state"] = task ? "busy" : ipc::child_state_name(c.state());
    if (task) {
      ++running;
      w["task"] = task->task_id;
      const uint64_t started = task->started_ns;
      w["running_ms"] = started != 0 && now > started ? static_cast<double>(now - started) / 1e6 : 0.0;
    }
    w["tasks_done"] = c.tasks_done();
    // Busy time of the current worker over the pool's life: a share of one slot.
    w["busy_pct"] = 100.0 * static_cast<double>(c.busy_ns()) /
                    std::max(1.0, static_cast<double>(now - h.created_ns));
    w["rss_bytes"] = pid != 0 ? resident_bytes(pid) : 0;
    w["restarts"] = c.restarts();
    workers.push_back(std::move(w));
  }
  pool["running"] = running;
  pool["finished"] = finished;
  pool["workers"] = std::move(workers);
  return pool;
}

std::string text(const json& p) {
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line, "procpool %d: %s, up %.1f s; tasks: %llu submitted, %llu queued, %llu running, %llu done",
                p["pid"].get<int>(), counted(p["workers"].size(), "worker").c_str(), p["uptime_s"].get<double>(),
                static_cast<unsigned long long>(p["submitted"].get<uint64_t>()),
                static_cast<unsigned long long>(p["queued"].get<uint64_t>()),
                static_cast<unsigned long long>(p["running"].get<uint64_t>()),
                static_cast<unsigned long long>(p["finished"].get<uint64_t>()));
  out += line;
  std::string by;
  for (const auto& [status, n] : p["done"].items())
    if (n.get<uint64_t>() != 0) by += (by.empty() ? "" : ", ") + std::to_string(n.get<uint64_t>()) + " " + status;
  if (!by.empty()) out += " (" + by + ")";
  std::snprintf(line, sizeof line, ", %.1f tasks/s over the last seconds", p["rate_per_s"].get<double>());
  out += line;
  out += ", " + counted(p["restarts"].get<uint64_t>(), "restart") + "\n";
  out += "containment: " + p["containment"].get<std::string>() + "\n";
  out += "slot  pid       gen  state     task        running     done     busy%  rss      restarts\n";
  for (const json& w : p["workers"]) {
    const std::string task = w.contains("task") ? "#" + std::to_string(w["task"].get<uint64_t>()) : "-";
    char running[32] = "-";
    if (w.contains("running_ms")) std::snprintf(running, sizeof running, "%.1f ms", w["running_ms"].get<double>());
    std::snprintf(line, sizeof line, "%-5llu %-9u %-4llu %-9s %-11s %-11s %-8llu %5.1f  %-8s %u\n",
                  static_cast<unsigned long long>(w["slot"].get<uint64_t>()), w["pid"].get<unsigned>(),
                  static_cast<unsigned long long>(w["generation"].get<uint64_t>()), w["state"].get<std::string>().c_str(),
                  task.c_str(), running, static_cast<unsigned long long>(w["tasks_done"].get<uint64_t>()),
                  w["busy_pct"].get<double>(),
                  (std::to_string(w["rss_bytes"].get<uint64_t>() >> 20) + " MiB").c_str(), w["restarts"].get<unsigned>());
    out += line;
  }
  return out;
}

// Prometheus text exposition format, one pool per `pool` label.
std::string prometheus(const std::vector<json>& pools) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto sample = [&](const std::string& name, const std::string& labels, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out += name + "{" + labels + "} " + buf + "\n";
  };
  family("procpool_tasks_submitted_total", "counter", "Tasks accepted.");
  for (const json& p : pools) sample("procpool_tasks_submitted_total", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\"", p["submitted"].get<double>());
  family("procpool_tasks_done_total", "counter", "Tasks finished, by status.");
  for (const json& p : pools)
    for (const auto& [status, n] : p["done"].items())
      sample("procpool_tasks_done_total", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\",status=\"" + status + "\"", n.get<double>());
  family("procpool_tasks_queued", "gauge", "Tasks waiting for a worker.");
  for (const json& p : pools) sample("procpool_tasks_queued", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\"", p["queued"].get<double>());
  family("procpool_tasks_running", "gauge", "Tasks running now.");
  for (const json& p : pools) sample("procpool_tasks_running", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\"", p["running"].get<double>());
  family("procpool_tasks_finished_per_second", "gauge", "Tasks finished per second over the last ~5 s.");
  for (const json& p : pools) sample("procpool_tasks_finished_per_second", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\"", p["rate_per_s"].get<double>());
  family("procpool_worker_restarts_total", "counter", "Unplanned worker replacements.");
  for (const json& p : pools) sample("procpool_worker_restarts_total", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\"", p["restarts"].get<double>());
  family("procpool_worker_tasks_done_total", "counter", "Tasks finished by the worker now in each slot.");
  for (const json& p : pools)
    for (const json& w : p["workers"])
      sample("procpool_worker_tasks_done_total", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\",slot=\"" + std::to_string(w["slot"].get<int>()) + "\"", w["tasks_done"].get<double>());
  family("procpool_worker_rss_bytes", "gauge", "Resident memory of each worker.");
  for (const json& p : pools)
    for (const json& w : p["workers"])
      sample("procpool_worker_rss_bytes", "pool=\"" + std::to_string(p["pid"].get<int>()) + "\",slot=\"" + std::to_string(w["slot"].get<int>()) + "\"", w["rss_bytes"].get<double>());
  return out;
}

}  // namespace

std::string prometheus_metrics(const std::string& segment_name, pid_t pid) {
  return prometheus({snapshot(Found{segment_name, pid})});
}

int show_status(pid_t pid, StatusFormat format, bool watch) {
  for (;;) {
    std::vector<json> pools;
    for (const Found& f : find_pools(pid)) {
      try {
        pools.push_back(snapshot(f));
      } catch (const std::exception&) {
        // gone between listing and mapping, or not a layout we know: skip it
      }
    }
    // JSON has one shape: a list, of one pool, of several or of none (for scripts: `[]` is
    // an answer, exit 0, unless the one pool asked for with --pid is not there).
    if (pools.empty() && format == StatusFormat::Json && !watch) {
      std::fputs("[]\n", stdout);
      return pid != 0 ? 1 : 0;
    }
    if (pools.empty()) {
      if (pid != 0) {
        std::fprintf(stderr, "procpool status: no running procpool with pid %d of this user\n", static_cast<int>(pid));
      } else {
        std::fprintf(stderr, "procpool status: no running procpool of this user\n");
      }
      return 1;
    }
    std::string out;
    if (format == StatusFormat::Json) {
      out = json(pools).dump() + "\n";
    } else if (format == StatusFormat::Prometheus) {
      out = prometheus(pools);
    } else {
      for (const json& p : pools) out += text(p);
    }
    if (watch) std::fputs("\033[H\033[2J", stdout);  // clear, as top does
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (!watch) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace procpool::supervisor
