#pragma once
// The service's insides, shared by its files: server.cpp (life cycle, the loop's
// callbacks, systemd), requests.cpp (the protocol's requests and their results),
// connections.cpp (clients' sockets and buffers), listeners.cpp (the sockets it listens
// on), metrics_endpoint.cpp (GET /metrics), reload.cpp (SIGHUP, the results log).
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "supervisor/engine/supervisor.hpp"
#include "supervisor/redis/intake.hpp"
#include "supervisor/service/server.hpp"

namespace procpool::supervisor {

// A connected client. Requests and replies are JSON lines; replies and results are
// buffered and written as the socket takes them, so a slow client never blocks the pool.
struct Client {
  int fd = -1;
  bool http = false;  // a metrics scrape, not a protocol client
  std::string in, out;
  bool watching_out = false;
  bool close_after_flush = false;
};

// One submit request: how many of its tasks have no result yet.
struct Request {
  uint64_t client = 0;
  uint64_t number = 0;
  uint64_t count = 0, remaining = 0, ok = 0;
};

using LogFile = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// The results log, appended to (0600 if it is created); none for an empty path.
LogFile open_log(const std::string& path);
// The service's Unix socket (mode 0660 through the umask, bound then renamed into place;
// a dead server's socket is replaced, a live one's refused).
int listen_unix(const std::string& path);
// The optional metrics endpoint: HTTP on 127.0.0.1 only.
int listen_loopback_tcp(int port);

class Server final : public Remote, public PoolEvents {
 public:
  // hangup_fd: a signalfd for SIGHUP (reload), or -1.
  Server(ServeRequest request, Supervisor& pool, LogFile log, int hangup_fd);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // --- Remote: the loop thread handles the sockets whenever the epoll fd is readable.
  int wake_fd() const override { return epoll_fd_; }
  bool take(Supervisor&) override;
  bool has_posts() const override { return false; }
  bool prepare_sleep() override { return false; }  // the epoll fd itself wakes the loop
  void woke() override {}
  bool finished(const Supervisor& pool) const override;

  // --- PoolEvents
  void on_result(const Completion& c) override;
  void on_worker_exit(const WorkerExit& e) override;
  void on_tick() override;
  void on_idle() override;

  void ready();
  void check_stopping();

 private:
  void reload();
  std::string status_line() const;
  // connections.cpp
  void watch(int fd, uint64_t id, uint32_t events, int op);
  void accept_clients(int listener, bool http);
  void read_from(uint64_t id);
  void send(uint64_t id, const std::string& line);
  void flush(uint64_t id);
  void drop(uint64_t id);
  // metrics_endpoint.cpp
  void answer_scrape(uint64_t id);
  // requests.cpp
  void handle(uint64_t client, const std::string& line);
  int kind_for(const std::string& kind, const KindOptions& options, std::string* why, bool name_kinds = false);

  static constexpr uint64_t kMetricsListener = ~uint64_t{0};
  static constexpr uint64_t kHangup = ~uint64_t{0} - 1;
  static constexpr uint64_t kRedis = ~uint64_t{0} - 2;

  ServeRequest request_;
  std::vector<std::string> kind_names_;  // of every kind the pool has, by id
  Supervisor& pool_;
  LogFile log_file_;
  std::FILE* log_;
  uint64_t start_ns_;
  int hangup_fd_;
  std::unique_ptr<redis::Intake> redis_;
  uint64_t stopping_ns_ = 0;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int metrics_fd_ = -1;
  std::map<uint64_t, Client> clients_;
  uint64_t next_client_ = 0;
  std::unordered_map<uint64_t, uint64_t> routes_;  // task id -> request
  std::map<uint64_t, Request> requests_;
  uint64_t requests_made_ = 0;
  uint64_t done_ = 0;
  std::map<std::string, uint64_t> by_status_;
  uint64_t watchdog_ns_ = 0, last_watchdog_ns_ = 0, last_status_ns_ = 0;
  bool stopping_sent_ = false;
};

}  // namespace procpool::supervisor
