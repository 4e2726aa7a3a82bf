#pragma once
// The child side of a pool: started by exec with the argv of ipc/child_args.hpp, it
// attaches to its slot, loads the kinds the supervisor defined, reports ready, then runs
// tasks until told to stop or until its supervisor is gone.
#include "child/task_api.hpp"

namespace procpool {

// True when argv says this process was started as a pool child.
bool is_child_invocation(int argc, char** argv);

// Runs the worker loop; returns the process exit status.
int run_child(int argc, char** argv, const KindRegistry& registry);

}  // namespace procpool
