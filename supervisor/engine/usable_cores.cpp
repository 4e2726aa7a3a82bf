#include "supervisor/engine/usable_cores.hpp"

#include <sched.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

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

// This process's path in the v2 hierarchy (controller empty) or in the v1 hierarchy of
// `controller`, from /proc/self/cgroup ("0::/path", "4:cpu,cpuacct:/path").
std::optional<std::string> own_cgroup(const std::string& controller) {
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    const auto a = line.find(':'), b = line.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (controller.empty() ? controllers.empty() : ("," + controllers + ",").find("," + controller + ",") != std::string::npos)
      return line.substr(b + 1);
  }
  return std::nullopt;
}

// The folders of this process's cgroup and of each ancestor up to the mount, in the
// hierarchy of `controller` (v2 when empty), nearest first.
std::vector<std::filesystem::path> cgroup_folders(const std::string& controller) {
  const auto path = own_cgroup(controller);
  if (!path) return {};
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    const auto mount = cgroup_mount_of(line, controller);
    if (!mount) continue;
    // Our path as the mount shows it: below its root (a namespaced mount's root is ours).
    std::string below = *path;
    if (mount->root != "/") {
      if (below.rfind(mount->root, 0) != 0) continue;
      below.erase(0, mount->root.size());
    }
    std::vector<std::filesystem::path> folders;
    std::filesystem::path dir = std::filesystem::path(mount->point) / std::filesystem::path(below).relative_path();
    for (;;) {
      folders.push_back(dir);
      if (dir == mount->point || !dir.has_parent_path() || dir.parent_path() == dir) break;
      dir = dir.parent_path();
    }
    return folders;
  }
  return {};
}

// The smallest quota, in CPUs, from our cgroup up in both hierarchies; 0 if none.
double cgroup_quota() {
  double best = 0;
  const auto consider = [&best](double q) {
    if (q > 0 && (best == 0 || q < best)) best = q;
  };
  for (const auto& dir : cgroup_folders("")) consider(cpu_max_quota(read_text(dir / "cpu.max")));
  for (const auto& dir : cgroup_folders("cpu"))
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

std::optional<CgroupMount> cgroup_mount_of(const std::string& line, const std::string& controller) {
  // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
  const auto dash = line.find(" - ");
  if (dash == std::string::npos) return std::nullopt;
  std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
  std::string id, parent, dev, fstype, source, super;
  CgroupMount mount;
  if (!(head >> id >> parent >> dev >> mount.root >> mount.point) || !(tail >> fstype >> source >> super))
    return std::nullopt;
  if (controller.empty() ? fstype != "cgroup2" : fstype != "cgroup") return std::nullopt;
  if (!controller.empty() && ("," + super + ",").find("," + controller + ",") == std::string::npos) return std::nullopt;
  return mount;
}

unsigned usable_cores() {
  unsigned cores = affinity_cores();
  const double quota = cgroup_quota();
  if (quota > 0) cores = std::min(cores, static_cast<unsigned>(std::ceil(quota)));
  return cores > 0 ? cores : 1;
}

}  // namespace procpool::supervisor
