#pragma once
// How a supervisor starts a child: the child's argv after the program name,
//   __procpool_child SEGMENT SLOT GENERATION WAKE_FD SUPERVISOR_PID TASK_WAKE_FD
// encoded and decoded here only, so the two sides cannot drift apart. The child's
// program is the supervisor's own executable (or the program embedding the C++ API), so
// both sides are always built from the same source; the decoder still refuses anything
// but the exact shape, because argv is the one input a child takes before it can check
// the segment's header.
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace procpool::ipc {

inline constexpr const char* kChildModeArg = "__procpool_child";

struct ChildArgs {
  std::string segment;  // shared-memory segment name
  uint32_t slot = 0;
  uint64_t generation = 0;  // the slot's generation this child owns (SlotControl::owned_by)
  int wake_fd = -1;         // eventfd: wakes the supervisor
  pid_t supervisor = 0;     // the child exits when its parent is no longer this
  int task_wake_fd = -1;    // eventfd: the supervisor wakes a child that runs many tasks at once
};

// argv[1..]: kChildModeArg then the fields, in decimal.
std::vector<std::string> encode_child_args(const ChildArgs& args);
// argv as main() got it; nullopt unless it is exactly what encode_child_args makes.
std::optional<ChildArgs> decode_child_args(int argc, const char* const* argv);
// argv[1] is kChildModeArg: this process was started as a pool's child.
bool is_child_argv(int argc, const char* const* argv);

}  // namespace procpool::ipc
