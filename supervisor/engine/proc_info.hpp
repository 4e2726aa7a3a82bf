#pragma once
// What /proc says about a process (the supervisor's memory limits, procpool status).
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace procpool::supervisor {

// Resident set size of a process in bytes, 0 if it cannot be read (gone, or not ours).
inline uint64_t resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace procpool::supervisor
