#include "ipc/status.hpp"

#include <cstring>

namespace procpool::ipc {

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::error: return "error";
    case Status::crashed: return "crashed";
    case Status::timeout: return "timeout";
    case Status::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::optional<Status> status_from_name(std::string_view name) {
  for (int i = 0; i < kStatusCount; ++i)
    if (name == status_name(status_at(i))) return status_at(i);
  return std::nullopt;
}

}  // namespace procpool::ipc
