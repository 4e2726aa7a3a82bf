// A loopback HTTP/1.1 server for the download benchmark that costs its clients' CPU as
// little as possible: one thread, epoll, keep-alive, and every GET answered after a fixed
// latency with a body of fixed size. The Python test server (tests/http/server.py) needs
// most of a core for ~3000 requests/s, which on a 2-core machine caps what any client can
// show; this one needs a few percent.
//
// Usage: latency_server LATENCY_MS BODY_BYTES. Prints "PORT <n>", serves until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  std::string in;
  std::string out;
  uint64_t generation = 0;  // tells a reused fd's answers from its predecessor's
  bool watching_out = false;  // EPOLLOUT armed: out did not fit the socket
};

struct Due {
  int64_t at;
  int fd;
  uint64_t generation;
  bool operator>(const Due& o) const { return at > o.at; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: latency_server LATENCY_MS BODY_BYTES\n");
    return 2;
  }
  const int64_t latency = std::atoll(argv[1]);
  const std::string body(static_cast<std::size_t>(std::atoll(argv[2])), 'x');
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 4096) != 0) {
    std::perror("latency_server");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("PORT %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, Connection> conns;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
  uint64_t generations = 0;
  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  auto watch = [&](int fd, bool writable) {
    epoll_event cev{};
    cev.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
    cev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
  };
  auto flush = [&](int fd, Connection& c) {
    while (!c.out.empty()) {
      const ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // the socket is full: EPOLLOUT says when to go on
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    if (c.out.empty() == c.watching_out) {
      c.watching_out = !c.out.empty();
      watch(fd, c.watching_out);
    }
  };
  std::vector<epoll_event> events(256);
  char buf[65536];
  for (;;) {
    int timeout = -1;
    if (!due.empty()) timeout = static_cast<int>(std::max<int64_t>(0, due.top().at - now_ms()));
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == listener) {
        for (int c; (c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns[c].generation = ++generations;
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if ((events[static_cast<std::size_t>(i)].events & EPOLLOUT) != 0) {
        flush(fd, it->second);
        if ((events[static_cast<std::size_t>(i)].events & EPOLLIN) == 0) continue;
      }
      const ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got <= 0) {
        drop(fd);
        continue;
      }
      Connection& c = it->second;
      c.in.append(buf, static_cast<std::size_t>(got));
      // Each complete request head is one answer, due after the latency.
      for (std::size_t end; (end = c.in.find("\r\n\r\n")) != std::string::npos;) {
        c.in.erase(0, end + 4);
        due.push({now_ms() + latency, fd, c.generation});
      }
    }
    const int64_t now = now_ms();
    while (!due.empty() && due.top().at <= now) {
      const Due d = due.top();
      due.pop();
      auto it = conns.find(d.fd);
      if (it == conns.end() || it->second.generation != d.generation) continue;
      it->second.out += response;
      if (!it->second.watching_out) flush(d.fd, it->second);
    }
  }
}
