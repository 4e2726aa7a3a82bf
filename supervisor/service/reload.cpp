#include "supervisor/service/server_impl.hpp"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "ipc/clock.hpp"
#include "supervisor/observe/log.hpp"
#include "supervisor/observe/notify.hpp"
#include "supervisor/observe/report.hpp"

namespace procpool::supervisor {

LogFile open_log(const std::string& path) {
  LogFile log(nullptr, &std::fclose);
  if (path.empty()) return log;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) log.reset(fdopen(fd, "a"));
  if (!log) throw std::runtime_error("cannot write results to " + path + ": " + std::strerror(errno));
  return log;
}

// SIGHUP: the config file again. A bad one is refused with the old one kept in force
// (systemd hears RELOADING=1, then READY=1 either way).
void Server::reload() {
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
    spdlog::info("reloaded the configuration: {}", counted(pool_.workers(), "worker"));
  } else {
    spdlog::error("reload refused, the running configuration stays: {}", error);
  }
  notify_systemd("READY=1\nSTATUS=" + (error.empty() ? status_line() : "reload refused: " + error));
}

}  // namespace procpool::supervisor
