#include "child/kinds/exec_spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace procpool::kinds {

namespace {

// posix_spawn's attributes and file actions, released whatever happens.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

pid_t spawn_command(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  SpawnSetup s;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &all);  // an ignored SIGPIPE is not inherited
  // POSIX_SPAWN_USEVFORK is implied in glibc >= 2.24; said for older ones.
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  posix_spawn_file_actions_addopen(&s.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // dup2 onto itself would keep close-on-exec set: the fds given are never 1 or 2 here,
  // since the worker's own stdout and stderr stay open.
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&s.actions, out_fd, STDOUT_FILENO);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&s.actions, err_fd, STDERR_FILENO);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, args[0], &s.actions, &s.attr, args.data(), environ);
  return err == 0 ? pid : -err;
}

std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t at = 0; at <= dirs.size();) {
    std::size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end == at ? "." : dirs.substr(at, end - at);  // an empty entry: here
    std::string candidate = dir + "/" + program;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    at = end + 1;
  }
  return "";
}

int wait_command(pid_t pid, const std::function<bool()>& every_100ms) {
  int status = 0;
  if (every_100ms) {
    // glibc 2.36's <sys/pidfd.h> is not C++-safe: the system call directly.
    const int exited = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (exited >= 0) {
      pollfd pfd{exited, POLLIN, 0};
      for (;;) {
        const int n = poll(&pfd, 1, 100);
        if (n > 0 || (n < 0 && errno != EINTR)) break;
        if (n == 0 && every_100ms()) {
          kill(pid, SIGKILL);
          break;
        }
      }
      close(exited);
    }
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace procpool::kinds
