#pragma once
// The one convention for a failed system call in the libraries (ipc, child, engine,
// service): throw std::runtime_error "WHAT failed: STRERROR", and let the layer above
// decide (a worker that cannot start, a pool that fails, a CLI exit status). A call
// whose failure is harmless (a close, a best-effort clean-up) says at its site why it is
// not checked.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace procpool::ipc {

[[noreturn]] inline void throw_sys(const char* what, int err) {
  throw std::runtime_error(std::string(what) + " failed: " + std::strerror(err));
}

// For calls that return -1 and set errno; returns rc (an fd, a count) otherwise.
inline int check_sys(int rc, const char* what) {
  if (rc == -1) throw_sys(what, errno);
  return rc;
}

// For the pthread calls, which return the error number instead.
inline void check_pthread(int err, const char* what) {
  if (err != 0) throw_sys(what, err);
}

}  // namespace procpool::ipc
