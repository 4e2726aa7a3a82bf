#pragma once
#include <string>

namespace procpool::supervisor {

// The cores this process may really use: its CPU affinity mask, further capped by any
// cgroup v2 cpu.max quota on the way up from its cgroup (a container limited to 1.5
// CPUs gets 2). Never less than 1.
unsigned usable_cores();

// The cgroup v2 quota in CPUs ("200000 100000" -> 2.0) of one cpu.max text, or 0 for
// "max" or anything unreadable. Exposed for tests.
double cpu_max_quota(const std::string& cpu_max_text);

}  // namespace procpool::supervisor
