#pragma once
// The wake-up eventfds between supervisor, children and front-end threads. They are
// non-blocking, and each use ignores the one error it can meet: EAGAIN, on a write when
// the counter is full (the reader is being woken anyway) and on a read when nothing is
// pending. EBADF or EINVAL would be a bug of ours, not a condition to handle.
#include <unistd.h>

#include <cstdint>

namespace procpool::ipc {

inline void eventfd_ring(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}

// Consumes every wake-up pending (0 is fine); returns how many there were.
inline uint64_t eventfd_drain(int fd) {
  uint64_t count = 0;
  return ::read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count) ? count : 0;
}

}  // namespace procpool::ipc
