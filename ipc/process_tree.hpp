#pragma once
// The processes whose parent is a given one, whichever of its threads forked them or
// adopted them (a subreaper's orphans): what a worker sweeps after its tasks, what a
// supervisor in process-group containment kills when it adopts them, and the tree whose
// memory it adds up. Linux's /proc/PID/task/TID/children.
#include <sys/types.h>
#include <unistd.h>

#include <vector>

namespace procpool::ipc {

std::vector<pid_t> children_of(pid_t pid);
inline std::vector<pid_t> own_children() { return children_of(getpid()); }
// The process exists and is not a zombie (dead, its parent yet to reap it). A pid of
// another user's counts as alive: it cannot be told apart.
bool process_lives(pid_t pid);

}  // namespace procpool::ipc
