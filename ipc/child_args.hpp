#pragma once
// How a supervisor starts a child: "<exe> __procpool_child SEGMENT SLOT GENERATION
// WAKE_FD SUPERVISOR_PID". Both sides agree on it here.
namespace procpool {
inline constexpr const char* kChildModeArg = "__procpool_child";
}  // namespace procpool
