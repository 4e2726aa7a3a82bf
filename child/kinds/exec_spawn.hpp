#pragma once
// Starting and waiting for exec's commands.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace procpool::kinds {

// Starts argv[0] (a path: find_program) with stdin from /dev/null and stdout and stderr on
// out_fd and err_fd, or the worker's own where -1. posix_spawn: glibc starts the command
// with clone(CLONE_VM | CLONE_VFORK), without the copy of the worker's page tables that
// fork makes (most of a short command's cost). The command gets an empty signal mask and
// default dispositions whatever the worker has. It is in the worker's container (process
// group or cgroup), so whatever kills the worker kills it. Returns its pid, or -errno
// when it could not start (ENOENT: no such program).
pid_t spawn_command(const std::vector<std::string>& argv, int out_fd, int err_fd);

// Where PATH finds program, as execvp would look ("" when nowhere); a name with a slash
// is itself. Looked up once per program by the kind: PATH searched per command was ten
// failed execve calls each for a program in /usr/bin.
std::string find_program(const std::string& program);

// Waits for pid to end and returns its wait status. every_100ms (when set) runs while it
// runs; returning true kills it (SIGKILL).
int wait_command(pid_t pid, const std::function<bool()>& every_100ms);

}  // namespace procpool::kinds
