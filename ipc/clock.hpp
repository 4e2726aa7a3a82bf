#pragma once
// CLOCK_MONOTONIC nanoseconds: the one time base every process of a pool shares, so a
// child's start/end stamps and the supervisor's queue stamps can be subtracted directly.
#include <cstdint>
#include <ctime>

namespace procpool::ipc {

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace procpool::ipc
