#pragma once
// The child side of a pool: started by exec as "<exe> __procpool_child SEGMENT SLOT
// GENERATION WAKE_FD SUPERVISOR_PID", it attaches to its slot, loads the kinds the
// supervisor defined, reports ready, then runs tasks until told to stop or until its
// supervisor is gone.
#include "child/task_api.hpp"
#include "ipc/child_args.hpp"

namespace procpool {

// True when argv says this process was started as a pool child.
bool is_child_invocation(int argc, char** argv);

// Runs the worker loop; returns the process exit status.
int run_child(int argc, char** argv, const KindRegistry& registry);

}  // namespace procpool
