#include "supervisor/service/server.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>
#include <spdlog/spdlog.h>

#include "ipc/clock.hpp"
#include "ipc/sys_error.hpp"
#include "supervisor/observe/notify.hpp"
#include "supervisor/observe/report.hpp"
#include "supervisor/service/server_impl.hpp"

namespace procpool::supervisor {

Server::Server(ServeRequest request, Supervisor& pool, LogFile log, int hangup_fd)
    : request_(std::move(request)), pool_(pool), log_file_(std::move(log)), log_(log_file_.get()),
      start_ns_(ipc::monotonic_ns()), hangup_fd_(hangup_fd) {
  for (const KindSpec& kind : request_.kinds) kind_names_.push_back(kind.name);
  epoll_fd_ = ipc::check_sys(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
  if (hangup_fd_ >= 0) watch(hangup_fd_, kHangup, EPOLLIN, EPOLL_CTL_ADD);
  if (request_.use_redis) {
    redis_ = std::make_unique<redis::Intake>(request_.redis, [](int level, const std::string& message) {
      if (level == 0) spdlog::info("{}", message);
      else if (level == 1) spdlog::warn("{}", message);
      else spdlog::error("{}", message);
    });
    watch(redis_->wake_fd(), kRedis, EPOLLIN, EPOLL_CTL_ADD);
  }
  listen_fd_ = listen_unix(request_.socket_path);
  watch(listen_fd_, 0, EPOLLIN, EPOLL_CTL_ADD);
  if (request_.metrics_port != 0) {
    metrics_fd_ = listen_loopback_tcp(request_.metrics_port);
    watch(metrics_fd_, kMetricsListener, EPOLLIN, EPOLL_CTL_ADD);
  }
}

Server::~Server() {
  for (auto& [id, c] : clients_) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(request_.socket_path.c_str());
  }
  if (metrics_fd_ >= 0) ::close(metrics_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Server::take(Supervisor&) {
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

bool Server::finished(const Supervisor& pool) const {
  if (!pool.stopping() || pool.unfinished() != 0) return false;
  // The queue's last results and hand-backs are sent (within 10 s) before the end.
  return redis_ == nullptr || redis_->flushed() || ipc::monotonic_ns() - stopping_ns_ > 10'000'000'000ull;
}

void Server::on_worker_exit(const WorkerExit& e) {
  if (e.planned) {
    spdlog::debug("worker {} (pid {}) left as asked: {}", e.slot, e.pid, e.cause);
  } else {
    spdlog::warn("worker {} (pid {}) ended: {}; the tasks it held are retried or reported, and it is replaced",
                 e.slot, e.pid, e.cause);
  }
}

void Server::on_tick() {
  if (log_ != nullptr) std::fflush(log_);
  const uint64_t now = ipc::monotonic_ns();
  // Every third of the interval: systemd's advice is half, but this runs on the pool's
  // tick (100 ms when idle), and half plus a late tick or two came to the whole interval
  // with WatchdogSec=0.3 (seen in serve_test), which is a kill.
  if (watchdog_ns_ != 0 && now - last_watchdog_ns_ >= watchdog_ns_ / 3) {
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
void Server::check_stopping() {
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

void Server::on_idle() {
  if (log_ != nullptr) std::fflush(log_);
}

void Server::ready() {
  watchdog_ns_ = systemd_watchdog_ns();
  notify_systemd("READY=1\nSTATUS=" + status_line());
  spdlog::info("serving {} on {}; each contained by {}", counted(pool_.workers(), "worker"), request_.socket_path,
               pool_.containment());
  if (metrics_fd_ >= 0)
    spdlog::info("metrics on http://127.0.0.1:{}/metrics", request_.metrics_port);
}

std::string Server::status_line() const {
  std::string s = counted(pool_.workers(), "worker") + ", " + counted(pool_.unfinished(), "task") +
                  " queued or running, " + std::to_string(done_) + " done";
  for (const auto& [status, n] : by_status_) s += ", " + std::to_string(n) + " " + status;
  return s + ", " + counted(clients_.size(), "client");
}

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
