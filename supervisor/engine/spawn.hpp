#pragma once
// Starting and reaping child processes. Boost.Process lives only in spawn.cpp (its
// headers are slow to compile). A child is reaped in exactly one place, wait_exit(),
// after its pidfd said it exited; nothing else may waitpid() for it.
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "supervisor/engine/containment.hpp"

namespace procpool::supervisor {

class ChildProcess {
 public:
  // Starts exe with args (exec, never a bare fork of this process), with the given
  // variables added to this process's environment. Throws std::runtime_error naming the
  // executable if it cannot be started.
  // Before its exec the child takes its place (its cgroups, or a process group of its
  // own); it fails to start rather than run outside them.
  static std::unique_ptr<ChildProcess> start(const std::string& exe, const std::vector<std::string>& args,
                                             const std::vector<std::pair<std::string, std::string>>& env,
                                             const Placement& placement);
  ~ChildProcess();  // kills (SIGKILL) and reaps a child that is still running

  pid_t pid() const { return pid_; }
  // A pidfd (close-on-exec) that becomes readable when the child exits; owned by this.
  int pidfd() const { return pidfd_; }
  // Reaps the exited child; returns its raw wait status (WIFSIGNALED etc. apply).
  int wait_exit();
  void kill(int signal);

 private:
  struct Impl;
  explicit ChildProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  pid_t pid_;
  int pidfd_;
};

// "killed by SIGSEGV", "exit status 3": how a wait status reads in a result or a log.
std::string describe_wait_status(int status);

// The path of this process's executable, for re-executing it in child mode.
std::string self_executable();

}  // namespace procpool::supervisor
