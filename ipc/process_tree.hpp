#pragma once
// The processes whose parent is this one, whichever of its threads forked them or
// adopted them (a subreaper's orphans): what a worker sweeps after its tasks and what a
// supervisor in process-group containment kills when it adopts them. Linux's
// /proc/self/task/TID/children.
#include <sys/types.h>

#include <vector>

namespace procpool::ipc {

std::vector<pid_t> own_children();
// The process exists and is not a zombie (dead, its parent yet to reap it). A pid of
// another user's counts as alive: it cannot be told apart.
bool process_lives(pid_t pid);

}  // namespace procpool::ipc
