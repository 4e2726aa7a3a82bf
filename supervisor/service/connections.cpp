#include "supervisor/service/server_impl.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "ipc/sys_error.hpp"

namespace procpool::supervisor {

using nlohmann::json;

void Server::watch(int fd, uint64_t id, uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  ipc::check_sys(epoll_ctl(epoll_fd_, op, fd, &ev), "epoll_ctl");
}

void Server::accept_clients(int listener, bool http) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= request_.max_clients) {
      const std::string refusal = json{{"op", "error"}, {"message", "too many clients"}}.dump() + "\n";
      [[maybe_unused]] ssize_t n = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL);
      ::close(fd);
      continue;
    }
    const uint64_t id = ++next_client_;
    clients_[id].fd = fd;
    clients_[id].http = http;
    watch(fd, id, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
  }
}

void Server::read_from(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(id);  // gone: its tasks go on
    if (n < 0) break;
    c.in.append(buf, static_cast<std::size_t>(n));
    if (c.http) return answer_scrape(id);
    for (std::size_t nl; (nl = c.in.find('\n')) != std::string::npos;) {
      const std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      handle(id, line);
      if (clients_.find(id) == clients_.end()) return;
    }
    if (c.in.size() > request_.max_request_bytes) {
      send(id, json{{"op", "error"},
                    {"message", "request over " + std::to_string(request_.max_request_bytes) + " bytes"}}
                   .dump());
      c.in.clear();
      c.close_after_flush = true;
      return flush(id);
    }
  }
}

void Server::send(uint64_t id, const std::string& line) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;  // disconnected: the result is in the log, not lost
  it->second.out += line;
  it->second.out += '\n';
  flush(id);
}

void Server::flush(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return drop(id);
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  if (c.out.empty() && c.close_after_flush) return drop(id);
  const bool want_out = !c.out.empty();
  if (want_out != c.watching_out) {
    c.watching_out = want_out;
    watch(c.fd, id, EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
  }
}

void Server::drop(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr), "epoll_ctl");
  ::close(it->second.fd);
  clients_.erase(it);
}

}  // namespace procpool::supervisor
