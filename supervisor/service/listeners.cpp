#include "supervisor/service/server_impl.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "ipc/sys_error.hpp"

namespace procpool::supervisor {

int listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("socket path must be 1 to " + std::to_string(sizeof addr.sun_path - 1) + " bytes: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    // Left by a server that died, or in use: only a dead socket is replaced.
    if (!S_ISSOCK(st.st_mode)) {
      ::close(fd);
      throw std::runtime_error(path + " exists and is not a socket");
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) {
      ::close(fd);
      throw std::runtime_error("another procpool serve is listening on " + path);
    }
    ::unlink(path.c_str());  // unchecked: the rename below replaces it anyway
  }
  // Bound and listening under a temporary name, then renamed into place: a client that
  // sees the path can connect (between bind and listen it would be refused). Owner and
  // group only from the start (umask), not chmod'ed after a window.
  sockaddr_un tmp = addr;
  const std::string tmp_path = path + ".new-" + std::to_string(getpid());
  if (tmp_path.size() >= sizeof tmp.sun_path) {
    ::close(fd);
    throw std::runtime_error("socket path too long: " + path);
  }
  std::memcpy(tmp.sun_path, tmp_path.c_str(), tmp_path.size() + 1);
  ::unlink(tmp_path.c_str());  // a stale one of a dead pid; if it stays, bind says so
  const mode_t old = umask(0117);
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&tmp), sizeof tmp);
  const int bind_errno = errno;
  umask(old);
  if (rc != 0 || listen(fd, 128) != 0 || std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = rc != 0 ? bind_errno : errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(err));
  }
  return fd;
}

// The optional metrics endpoint: HTTP on 127.0.0.1 only.
int listen_loopback_tcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(fd);
    ipc::throw_sys("setsockopt", err);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot serve metrics on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace procpool::supervisor
