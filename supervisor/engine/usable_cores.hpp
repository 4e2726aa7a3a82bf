#pragma once
#include <string>

namespace procpool::supervisor {

// The cores this process may really use: its CPU affinity mask, further capped by the
// smallest CPU quota on the way up from its cgroup, rounded up (a container limited to
// 1.5 CPUs gets 2): cgroup v2's cpu.max, or cgroup v1's cpu.cfs_quota_us over
// cpu.cfs_period_us (Docker's --cpus on a v1 host). Each hierarchy is found where
// /proc/self/mountinfo says it is mounted (cgroup_fs.hpp). Never less than 1.
unsigned usable_cores();

// The cgroup v2 quota in CPUs ("200000 100000" -> 2.0) of one cpu.max text, or 0 for
// "max" or anything unreadable. Exposed for tests.
double cpu_max_quota(const std::string& cpu_max_text);

// The cgroup v1 quota in CPUs of cpu.cfs_quota_us and cpu.cfs_period_us texts ("150000",
// "100000" -> 1.5), or 0 for "-1" (no quota) or anything unreadable. Exposed for tests.
double cfs_quota(const std::string& quota_text, const std::string& period_text);

}  // namespace procpool::supervisor
