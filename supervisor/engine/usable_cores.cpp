#include "supervisor/engine/usable_cores.hpp"

#include <sched.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace procpool::supervisor {

double cpu_max_quota(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    const double q = std::stod(quota);
    return q > 0 ? q / period : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

namespace {
unsigned affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

// The smallest cpu.max quota from this process's cgroup up to the root, 0 if none.
double cgroup_quota() {
  std::ifstream cgroup("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cgroup, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return 0;
  double best = 0;
  std::filesystem::path dir = std::filesystem::path("/sys/fs/cgroup") / path.substr(path[0] == '/' ? 1 : 0);
  for (;;) {
    std::ifstream file(dir / "cpu.max");
    std::stringstream text;
    text << file.rdbuf();
    const double q = cpu_max_quota(text.str());
    if (q > 0 && (best == 0 || q < best)) best = q;
    if (dir == "/sys/fs/cgroup" || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
  return best;
}
}  // namespace

unsigned usable_cores() {
  unsigned cores = affinity_cores();
  const double quota = cgroup_quota();
  if (quota > 0) cores = std::min(cores, static_cast<unsigned>(std::ceil(quota)));
  return cores > 0 ? cores : 1;
}

}  // namespace procpool::supervisor
