#include "supervisor/observe/notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace procpool::supervisor {

bool notify_systemd(const std::string& lines) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const bool ok = sendto(fd, lines.data(), lines.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len) ==
                  static_cast<ssize_t>(lines.size());
  close(fd);
  return ok;
}

uint64_t systemd_watchdog_ns() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return 0;
  const char* pid = std::getenv("WATCHDOG_PID");
  if (pid != nullptr && std::strtol(pid, nullptr, 10) != getpid()) return 0;  // meant for another process
  const unsigned long long v = std::strtoull(usec, nullptr, 10);
  return v * 1000ull;
}

}  // namespace procpool::supervisor
