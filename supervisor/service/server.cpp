#include "supervisor/service/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "ipc/clock.hpp"
#include "ipc/sys_error.hpp"
#include "supervisor/observe/log.hpp"
#include "supervisor/observe/notify.hpp"
#include "supervisor/service/protocol.hpp"
#include "supervisor/redis/intake.hpp"
#include "supervisor/observe/report.hpp"
#include "supervisor/observe/status.hpp"

namespace procpool::supervisor {

namespace {

using nlohmann::json;

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

// The results log, appended to (0600 if it is created).
LogFile open_log(const std::string& path) {
  LogFile log(nullptr, &std::fclose);
  if (path.empty()) return log;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) log.reset(fdopen(fd, "a"));
  if (!log) throw std::runtime_error("cannot write results to " + path + ": " + std::strerror(errno));
  return log;
}

class Server final : public Remote, public PoolEvents {
 public:
  // hangup_fd: a signalfd for SIGHUP (reload), or -1.
  Server(ServeRequest request, Supervisor& pool, LogFile log, int hangup_fd)
      : request_(std::move(request)), pool_(pool), log_file_(std::move(log)), log_(log_file_.get()),
        start_ns_(ipc::monotonic_ns()), hangup_fd_(hangup_fd) {
    for (const KindSpec& kind : request_.kinds) kind_names_.push_back(kind.name);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    if (hangup_fd_ >= 0) watch(hangup_fd_, kHangup, EPOLLIN, EPOLL_CTL_ADD);
    if (request_.use_redis) {
      redis_ = std::make_unique<redis::Intake>(request_.redis, [](int level, const std::string& message) {
        if (level == 0) spdlog::info("{}", message);
        else if (level == 1) spdlog::warn("{}", message);
        else spdlog::error("{}", message);
      });
      watch(redis_->wake_fd(), kRedis, EPOLLIN, EPOLL_CTL_ADD);
    }
    listen_fd_ = listen_on(request_.socket_path);
    watch(listen_fd_, 0, EPOLLIN, EPOLL_CTL_ADD);
    if (request_.metrics_port != 0) {
      metrics_fd_ = listen_loopback_tcp(request_.metrics_port);
      watch(metrics_fd_, kMetricsListener, EPOLLIN, EPOLL_CTL_ADD);
    }
  }
  ~Server() override {
    for (auto& [id, c] : clients_) ::close(c.fd);
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      ::unlink(request_.socket_path.c_str());
    }
    if (metrics_fd_ >= 0) ::close(metrics_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  // --- Remote: the loop thread handles the socket whenever its epoll fd is readable.
  int wake_fd() const override { return epoll_fd_; }
  bool take(Supervisor&) override {
    check_stopping();
    epoll_event events[64];
    const int n = epoll_wait(epoll_fd_, events, 64, 0);
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kHangup) {
        reload();
        continue;
      }
      if (id == kRedis) {
        redis_->take(pool_, [this](const std::string& kind, const KindOptions& options, std::string* why) {
          return kind_for(kind, options, why);
        });
        continue;
      }
      if (id == 0 || id == kMetricsListener) {
        accept_clients(id == 0 ? listen_fd_ : metrics_fd_, id == kMetricsListener);
        continue;
      }
      if ((events[i].events & EPOLLOUT) != 0) flush(id);
      if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) read_from(id);
    }
    return n > 0;
  }
  bool has_posts() const override { return false; }
  bool prepare_sleep() override { return false; }  // the epoll fd itself wakes the loop
  void woke() override {}
  bool finished(const Supervisor& pool) const override {
    if (!pool.stopping() || pool.unfinished() != 0) return false;
    // The queue's last results and hand-backs are sent (within 10 s) before the end.
    return redis_ == nullptr || redis_->flushed() || ipc::monotonic_ns() - stopping_ns_ > 10'000'000'000ull;
  }

  // --- PoolEvents
  void on_result(const Completion& c) override {
    ++done_;
    ++by_status_[ipc::status_name(c.status)];
    const std::string line = result_json_line(c, kind_names_[c.kind], start_ns_);
    if (log_ != nullptr) {
      std::fwrite(line.data(), 1, line.size(), log_);
      std::fputc('\n', log_);
    }
    if (redis_ != nullptr && redis_->on_result(c, line, pool_.stopping())) return;
    const auto route = routes_.find(c.id);
    if (route == routes_.end()) return;
    const uint64_t request_key = route->second;
    routes_.erase(route);
    auto r = requests_.find(request_key);
    if (r == requests_.end()) return;
    Request& req = r->second;
    --req.remaining;
    if (c.status == ipc::Status::ok) ++req.ok;
    send(req.client, line);
    if (req.remaining == 0) {
      // A client told "done" finds its results in the log: flushed first.
      if (log_ != nullptr) std::fflush(log_);
      send(req.client, json{{"op", "done"}, {"request", req.number}, {"count", req.count}, {"ok", req.ok}}.dump());
      requests_.erase(r);
    }
  }
  void on_worker_exit(const WorkerExit& e) override {
    if (e.planned) {
      spdlog::debug("worker {} (pid {}) left as asked: {}", e.slot, e.pid, e.cause);
    } else {
      spdlog::warn("worker {} (pid {}) ended: {}; the tasks it held are retried or reported, and it is replaced",
                   e.slot, e.pid, e.cause);
    }
  }
  void on_tick() override {
    if (log_ != nullptr) std::fflush(log_);
    const uint64_t now = ipc::monotonic_ns();
    if (watchdog_ns_ != 0 && now - last_watchdog_ns_ >= watchdog_ns_ / 2) {
      notify_systemd("WATCHDOG=1");
      last_watchdog_ns_ = now;
    }
    if (now - last_status_ns_ >= 1'000'000'000ull) {
      last_status_ns_ = now;
      notify_systemd("STATUS=" + status_line());
    }
    check_stopping();
  }

  // Once a signal stopped the pool: tell systemd, and take no new clients (those
  // connected get their results). Called on every loop turn.
  void check_stopping() {
    if (!pool_.stopping() || stopping_sent_) return;
    stopping_sent_ = true;
    stopping_ns_ = ipc::monotonic_ns();
    if (redis_ != nullptr) redis_->stopping();
    notify_systemd("STOPPING=1");
    // Taken out explicitly: a close alone leaves it in the set while a child being
    // forked still holds the descriptor.
    ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr), "epoll_ctl");
    ::close(listen_fd_);
    ::unlink(request_.socket_path.c_str());
    listen_fd_ = -1;
  }
  void on_idle() override {
    if (log_ != nullptr) std::fflush(log_);
  }

  // SIGHUP: the config file again. A bad one is refused with the old one kept in force
  // (systemd hears RELOADING=1, then READY=1 either way).
  void reload() {
    signalfd_siginfo info{};
    bool hangup = false;
    while (read(hangup_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) hangup = true;
    if (!hangup || pool_.stopping()) return;
    notify_systemd("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(ipc::monotonic_ns() / 1000));
    std::string error;
    try {
      ServeRequest next = request_.reload();
      error = pool_.reconfigure(next.pool, next.kinds);
      if (error.empty()) {
        setup_logging(next.log_format, next.log_level);
        if (next.results_path != request_.results_path || log_ != nullptr) {
          LogFile reopened = open_log(next.results_path);  // a rotated log starts anew
          if (log_ != nullptr) std::fflush(log_);
          log_file_ = std::move(reopened);
          log_ = log_file_.get();
        }
        for (const auto& [what, changed] : {std::pair{"socket", next.socket_path != request_.socket_path},
                                            std::pair{"metrics-port", next.metrics_port != request_.metrics_port}})
          if (changed) spdlog::warn("reload: a new {} takes effect at restart", what);
        request_.results_path = next.results_path;
        for (std::size_t i = 0; i < next.kinds.size(); ++i) request_.kinds[i].options = next.kinds[i].options;
        request_.request_kind = next.request_kind;  // later requests' options meet the new config
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      spdlog::info("reloaded the configuration: {} workers", pool_.workers());
    } else {
      spdlog::error("reload refused, the running configuration stays: {}", error);
    }
    notify_systemd("READY=1\nSTATUS=" + (error.empty() ? status_line() : "reload refused: " + error));
  }

  void ready() {
    watchdog_ns_ = systemd_watchdog_ns();
    notify_systemd("READY=1\nSTATUS=" + status_line());
    spdlog::info("serving {} workers on {}", pool_.workers(), request_.socket_path);
    if (metrics_fd_ >= 0)
      spdlog::info("metrics on http://127.0.0.1:{}/metrics", request_.metrics_port);
  }

 private:
  std::string status_line() const {
    std::string s = std::to_string(pool_.workers()) + " workers, " + std::to_string(pool_.unfinished()) +
                    " tasks queued or running, " + std::to_string(done_) + " done";
    for (const auto& [status, n] : by_status_) s += ", " + std::to_string(n) + " " + status;
    return s + ", " + std::to_string(clients_.size()) + " clients";
  }

  static int listen_on(const std::string& path) {
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
      ::unlink(path.c_str());
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
    ::unlink(tmp_path.c_str());
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

  void watch(int fd, uint64_t id, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    ipc::check_sys(epoll_ctl(epoll_fd_, op, fd, &ev), "epoll_ctl");
  }

  void accept_clients(int listener, bool http) {
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

  void read_from(uint64_t id) {
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

  // One HTTP/1.1 request per connection: GET /metrics gets the Prometheus text.
  void answer_scrape(uint64_t id) {
    Client& c = clients_.at(id);
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > 8192) drop(id);  // not HTTP, or absurd: no answer
      return;
    }
    const bool metrics = c.in.rfind("GET /metrics ", 0) == 0 || c.in.rfind("GET /metrics?", 0) == 0;
    std::string body, head;
    if (metrics) {
      try {
        body = prometheus_metrics(pool_.segment_name(), getpid());
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
      } catch (const std::exception& e) {
        body = std::string(e.what()) + "\n";
        head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n";
      }
    } else {
      body = "procpool serves GET /metrics only\n";
      head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n";
    }
    c.in.clear();
    c.out += head + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    c.close_after_flush = true;
    flush(id);
  }

  // The optional metrics endpoint: HTTP on 127.0.0.1 only.
  static int listen_loopback_tcp(int port) {
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

  void handle(uint64_t client, const std::string& line) {
    auto error = [&](const std::string& message) { send(client, json{{"op", "error"}, {"message", message}}.dump()); };
    std::string problem;
    auto parsed = parse_request(line, &problem);
    if (!parsed) return error(problem);
    if (parsed->op == ClientRequest::Op::Stats) {
      json by_status = json::object();
      for (const auto& [status, n] : by_status_) by_status[status] = n;
      json workers = json::array();
      for (const WorkerStats& w : pool_.worker_stats())
        workers.push_back({{"slot", w.slot}, {"pid", w.pid}, {"tasks", w.tasks}, {"restarts", w.restarts}});
      return send(client, json{{"op", "stats"}, {"workers", workers}, {"unfinished", pool_.unfinished()},
                               {"done", done_}, {"by_status", by_status}, {"restarts", pool_.restarts()}}
                              .dump());
    }
    if (parsed->op == ClientRequest::Op::Cancel) {
      const uint64_t id = parsed->id;
      return send(client, json{{"op", "cancel"}, {"id", id}, {"cancelled", pool_.cancel(id, "cancelled by a client")}}.dump());
    }
    if (pool_.stopping()) return error("the pool is stopping");
    std::string why;
    const int index = kind_for(parsed->kind, parsed->options, &why, true);
    if (index < 0) return error(why);
    Request req;
    req.client = client;
    req.number = ++requests_made_;
    req.count = req.remaining = parsed->inputs.size();
    const uint64_t key = req.number;
    uint64_t first = 0;
    bool any = false;
    requests_.emplace(key, req);
    for (std::string& in : parsed->inputs) {
      const uint64_t id = pool_.submit(static_cast<uint8_t>(index), std::move(in));
      if (!any) first = id;
      any = true;
      routes_.emplace(id, key);
    }
    send(client, json{{"op", "accepted"}, {"request", key}, {"first_id", first}, {"count", req.count}}.dump());
  }

  // The pool's kind for a request: the configured one, or (with options) one defined for
  // them; -1 with *why set when the kind is unknown or its options are refused.
  int kind_for(const std::string& kind, const KindOptions& options, std::string* why, bool name_kinds = false) {
    std::string names;
    for (std::size_t i = 0; i < request_.kinds.size(); ++i) {
      if (request_.kinds[i].name == kind && options.empty()) return static_cast<int>(i);
      names += (names.empty() ? "" : ", ") + request_.kinds[i].name;
    }
    try {
      const auto spec = request_.request_kind ? request_.request_kind(kind, options) : std::nullopt;
      if (!spec) {
        *why = "unknown task kind '" + kind + "'" + (name_kinds ? " (kinds: " + names + ")" : "");
        return -1;
      }
      const uint8_t id = pool_.add_kind(*spec);
      if (id == kind_names_.size()) {
        kind_names_.push_back(spec->name);
        spdlog::info("defined {} with a request's options ({} kinds now)", spec->name, kind_names_.size());
      }
      return id;
    } catch (const std::exception& e) {  // options refused, too many kinds, an unset ${VAR}
      *why = e.what();
    }
    return -1;
  }

  void send(uint64_t id, const std::string& line) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;  // disconnected: the result is in the log, not lost
    it->second.out += line;
    it->second.out += '\n';
    flush(id);
  }

  void flush(uint64_t id) {
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

  void drop(uint64_t id) {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr), "epoll_ctl");
    ::close(it->second.fd);
    clients_.erase(it);
  }

  ServeRequest request_;
  std::vector<std::string> kind_names_;  // of every kind the pool has, by id
  Supervisor& pool_;
  LogFile log_file_;
  std::FILE* log_;
  uint64_t start_ns_;
  int hangup_fd_;
  static constexpr uint64_t kHangup = ~uint64_t{0} - 1;
  static constexpr uint64_t kRedis = ~uint64_t{0} - 2;
  std::unique_ptr<redis::Intake> redis_;
  uint64_t stopping_ns_ = 0;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int metrics_fd_ = -1;
  static constexpr uint64_t kMetricsListener = ~uint64_t{0};
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

}  // namespace

int serve(const ServeRequest& request) {
  LogFile log = open_log(request.results_path);
  // SIGHUP reloads, read from a signalfd by the loop; blocked before the children exist
  // (they unblock every signal at start).
  int hangup_fd = -1;
  if (request.reload) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    ipc::check_pthread(pthread_sigmask(SIG_BLOCK, &mask, nullptr), "pthread_sigmask");
    hangup_fd = ipc::check_sys(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd");
  }
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } close_hangup{hangup_fd};
  PoolOptions options = request.pool;
  options.handle_signals = true;
  Supervisor pool(options, request.kinds);
  const std::string error = pool.start_up();
  if (!error.empty()) {
    spdlog::error("{}", error);
    return 1;
  }
  Server server(request, pool, std::move(log), hangup_fd);
  server.ready();
  const RunOutcome outcome = pool.serve(server, server);
  server.check_stopping();
  pool.shutdown();
  if (!outcome.error.empty()) {
    spdlog::error("{}", outcome.error);
    return 1;
  }
  spdlog::info("stopped by SIG{}", sigabbrev_np(outcome.signal) ? sigabbrev_np(outcome.signal) : "?");
  return 0;
}

}  // namespace procpool::supervisor
