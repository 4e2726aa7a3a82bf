#include "supervisor/engine/keeper.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace procpool::supervisor {
namespace {

constexpr int32_t kDone = -1;
constexpr int kMaxGroups = 4096;
constexpr int kRounds = 100;  // of 10 ms: a second for the tree to die

void pause_10ms() {
  const timespec ts{0, 10'000'000};
  nanosleep(&ts, nullptr);
}

// Kills every pid listed in DIR/cgroup.procs; true if there were any.
bool kill_listed(const char* procs_file) {
  const int fd = open(procs_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  bool any = false;
  long pid = 0;
  bool in_number = false;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    for (ssize_t i = 0; i <= n; ++i) {
      const bool digit = i < n && buf[i] >= '0' && buf[i] <= '9';
      if (digit) {
        pid = pid * 10 + (buf[i] - '0');
        in_number = true;
      } else if (in_number && i < n) {
        kill(static_cast<pid_t>(pid), SIGKILL);
        any = true;
        pid = 0;
        in_number = false;
      }
    }
  close(fd);
  return any;
}

struct Plan {
  const std::vector<std::string>* kill_files;
  const std::vector<std::string>* procs_files;
  const std::vector<std::string>* rmdirs;
};

// The keeper's whole life, in the forked process: async-signal-safe calls only, on
// memory prepared before the fork.
[[noreturn]] void keep(int fd, const Plan& plan) {
  setsid();  // out of the terminal's process group: ^C and kill -PGID are the supervisor's
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaction(sig, &ignore, nullptr);
  if (fd != 3) {
    dup2(fd, 3);
    fd = 3;
  }
  syscall(SYS_close_range, 0u, 2u, 0u);  // no terminal, no inherited sockets or segments
  syscall(SYS_close_range, 4u, ~0u, 0u);
  static pid_t groups[kMaxGroups];  // by slot: its current worker's group
  int n = 0;
  bool done = false;
  for (;;) {
    int32_t m[2] = {0, 0};  // slot, group; a slot of kDone says "done"
    const ssize_t r = read(fd, m, sizeof m);
    if (r == static_cast<ssize_t>(sizeof m)) {
      if (m[0] == kDone) done = true;
      else if (m[0] >= 0 && m[0] < kMaxGroups) {
        groups[m[0]] = m[1];
        if (m[0] >= n) n = m[0] + 1;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    break;  // end of file: the supervisor is gone
  }
  if (done) _exit(0);
  for (const std::string& f : *plan.kill_files) {
    const int k = open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (k >= 0) {
      [[maybe_unused]] const ssize_t w = write(k, "1", 1);
      close(k);
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    bool any = false;
    for (int i = 0; i < n; ++i) any |= groups[i] > 0 && kill(-groups[i], SIGKILL) == 0;
    for (const std::string& f : *plan.procs_files) any |= kill_listed(f.c_str());
    if (!any) break;
    pause_10ms();
  }
  for (const std::string& d : *plan.rmdirs)
    for (int round = 0; round < kRounds && rmdir(d.c_str()) != 0 && errno == EBUSY; ++round) pause_10ms();
  _exit(0);
}

}  // namespace

Keeper::Keeper(const std::vector<std::string>& kill_files, const std::vector<std::string>& procs_dirs,
               const std::vector<std::string>& rmdirs) {
  std::vector<std::string> procs_files;
  procs_files.reserve(procs_dirs.size());
  for (const std::string& d : procs_dirs) procs_files.push_back(d + "/cgroup.procs");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2 failed: ") + std::strerror(errno));
  const Plan plan{&kill_files, &procs_files, &rmdirs};
  // Forked twice: the keeper is no child of the supervisor (whose children are its
  // workers), and outlives it as init's (or a subreaper's) orphan. Its pid comes back
  // through the pipe's other direction: not needed, the pipe itself is the bond.
  const pid_t middle = fork();
  if (middle == 0) {
    if (fork() == 0) {
      close(fds[1]);
      keep(fds[0], plan);
    }
    _exit(0);
  }
  const int err = errno;
  close(fds[0]);
  if (middle < 0) {
    close(fds[1]);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(err));
  }
  while (waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  pipe_ = fds[1];
  // Never blocks the supervisor: the keeper drains it all along (a message is 8 bytes,
  // written whole or not at all, below PIPE_BUF).
  fcntl(pipe_, F_SETFL, O_NONBLOCK);
}

Keeper::~Keeper() {
  fcntl(pipe_, F_SETFL, 0);  // "done" must arrive
  const int32_t done[2] = {kDone, 0};
  [[maybe_unused]] const ssize_t w = write(pipe_, done, sizeof done);
  close(pipe_);  // the keeper reads "done", then the end of the pipe, and exits
}

void Keeper::watch_group(unsigned slot, pid_t pgid) {
  const int32_t m[2] = {static_cast<int32_t>(slot), static_cast<int32_t>(pgid)};
  [[maybe_unused]] const ssize_t w = write(pipe_, m, sizeof m);  // EAGAIN: 8k messages behind, the keeper busy
}

}  // namespace procpool::supervisor
