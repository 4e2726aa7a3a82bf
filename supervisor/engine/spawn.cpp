#include "supervisor/engine/spawn.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include "ipc/status.hpp"

namespace bp = boost::process;

namespace procpool::supervisor {
namespace {

// Runs in the forked child, before exec: async-signal-safe calls only.
struct TakePlace : bp::extend::handler {
  const Placement* placement;
  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    if (placement->own_process_group && setpgid(0, 0) != 0)
      exec.set_error(std::error_code(errno, std::system_category()), "setpgid");
    for (int fd : placement->procs_fds)
      if (::write(fd, "0", 1) != 1) exec.set_error(std::error_code(errno, std::system_category()), "joining its cgroup");
  }
  // In the parent, when the child could not take its place or exec: Boost returns no
  // child then, so this is the one chance to reap it (else a zombie per failed start).
  template <class Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid > 0)
      while (waitpid(exec.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
  }
};

}  // namespace

struct ChildProcess::Impl {
  bp::child child;
};

ChildProcess::ChildProcess(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), pid_(impl_->child.id()), pidfd_(-1) {
  // glibc 2.36's <sys/pidfd.h> is not C++-safe: use the system call directly.
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) {
    const int err = errno;
    impl_->child.terminate();
    throw std::runtime_error(std::string("pidfd_open failed: ") + std::strerror(err));
  }
  // pidfd_open returns a close-on-exec descriptor by default.
}

std::unique_ptr<ChildProcess> ChildProcess::start(const std::string& exe, const std::vector<std::string>& args,
                                                  const std::vector<std::pair<std::string, std::string>>& env,
                                                  const Placement& placement) {
  bp::environment environment = boost::this_process::environment();
  // set(), not operator[]: Boost 1.74's find() behind operator[] reads past the end of
  // shorter entries (AddressSanitizer caught it).
  for (const auto& [key, value] : env) environment.set(key, value);
  auto impl = std::make_unique<Impl>();
  TakePlace place;
  place.placement = &placement;
  std::error_code ec;
  impl->child = bp::child(bp::exe = exe, bp::args = args, environment, place, ec);
  if (ec) throw std::runtime_error("cannot start " + exe + ": " + ec.message());
  return std::unique_ptr<ChildProcess>(new ChildProcess(std::move(impl)));
}

ChildProcess::~ChildProcess() {
  std::error_code ec;  // the error_code overloads: a destructor must not throw
  if (impl_->child.valid() && impl_->child.running(ec)) {
    ::kill(pid_, SIGKILL);
    impl_->child.wait(ec);
  }
  if (pidfd_ >= 0) close(pidfd_);
}

int ChildProcess::wait_exit() {
  std::error_code ec;
  impl_->child.wait(ec);
  return impl_->child.native_exit_code();
}

void ChildProcess::kill(int signal) {
  // Through the pidfd: never signals a recycled pid.
  syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0);
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) return "killed by " + ipc::signal_name(WTERMSIG(status));
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "wait status " + std::to_string(status);
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace procpool::supervisor
