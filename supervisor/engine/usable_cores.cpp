#include "supervisor/engine/usable_cores.hpp"

#include <sched.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "supervisor/engine/cgroup_fs.hpp"

namespace procpool::supervisor {

namespace {

// The whole text as a number above 0, or 0.
double positive(const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    return used == text.size() && v > 0 ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

double ratio(const std::string& quota, const std::string& period) {
  const double p = positive(period);
  return p > 0 ? positive(quota) / p : 0;
}

std::string first_word(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  in >> word;
  return word;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

// The folders of this process's cgroup and of each ancestor up to the mount, nearest
// first, in a hierarchy as cgroup_fs finds it.
std::vector<std::filesystem::path> cgroup_folders(const std::optional<cgroup::Hierarchy>& h) {
  if (!h) return {};
  std::vector<std::filesystem::path> folders;
  for (std::filesystem::path dir = h->own_dir();; dir = dir.parent_path()) {
    folders.push_back(dir);
    if (dir == h->mount || !dir.has_parent_path() || dir.parent_path() == dir) break;
  }
  return folders;
}

// The smallest quota, in CPUs, from our cgroup up in both hierarchies; 0 if none.
double cgroup_quota() {
  double best = 0;
  const auto consider = [&best](double q) {
    if (q > 0 && (best == 0 || q < best)) best = q;
  };
  for (const auto& dir : cgroup_folders(cgroup::find_v2())) consider(cpu_max_quota(read_text(dir / "cpu.max")));
  for (const auto& dir : cgroup_folders(cgroup::find_v1("cpu")))
    consider(cfs_quota(read_text(dir / "cpu.cfs_quota_us"), read_text(dir / "cpu.cfs_period_us")));
  return best;
}

}  // namespace

double cpu_max_quota(const std::string& text) {
  std::istringstream in(text);
  std::string quota, period;
  if (!(in >> quota >> period) || quota == "max") return 0;
  return ratio(quota, period);
}

double cfs_quota(const std::string& quota_text, const std::string& period_text) {
  const std::string quota = first_word(quota_text);
  if (quota.empty() || quota[0] == '-') return 0;  // -1: no quota
  return ratio(quota, first_word(period_text));
}

unsigned usable_cores() {
  unsigned cores = affinity_cores();
  const double quota = cgroup_quota();
  if (quota > 0) cores = std::min(cores, static_cast<unsigned>(std::ceil(quota)));
  return cores > 0 ? cores : 1;
}

}  // namespace procpool::supervisor
