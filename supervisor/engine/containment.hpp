#pragma once
// Containment: each worker lives in a container of its own that holds everything its
// tasks start, so that whatever kills the worker kills its whole tree.
//   cgroup2        a cgroup per worker under one of the pool's in the v2 hierarchy
//                  (where this process may write: run as root, serve with Delegate=yes);
//                  killed with cgroup.kill
//   cgroup1        the same in the v1 memory (else pids) hierarchy; killed process by
//                  process until empty
// Where the containment's hierarchy lacks a memory or pids controller and a v1 hierarchy
// has it, the workers join a pool of cgroups there too, for that controller alone.
//   process-group  no cgroup can be made: each worker leads a process group, killed
//                  with killpg; procpool's own process is a child subreaper, so orphans
//                  that left the group come back to it and are killed
// A keeper process (keeper.hpp) does the same if the supervisor dies without cleaning up.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/engine/containment_mode.hpp"
#include "supervisor/engine/keeper.hpp"

namespace procpool::supervisor {

// What a forked worker does before it execs: write "0" to each cgroup.procs (which moves
// the writer), or make itself a process group leader. Async-signal-safe by construction.
struct Placement {
  std::vector<int> procs_fds;
  bool own_process_group = false;
};

class Containment {
 public:
  // Chooses the mode (Auto: the first of cgroup2, cgroup1, process-group that works here;
  // a forced one the machine lacks throws std::runtime_error saying why) and makes the
  // pool's cgroup. own_process: procpool's own executable, which may adopt orphans.
  // max_procs: processes and threads a worker's tree may have (pids.max), 0 for no cap;
  // max_memory: the kernel's cap on a worker's tree (see limit_memory), 0 for none.
  Containment(ContainmentMode wanted, unsigned slots, bool own_process, unsigned max_procs, uint64_t max_memory);
  ~Containment();  // kills what is left in every container and removes the cgroups
  Containment(const Containment&) = delete;
  Containment& operator=(const Containment&) = delete;

  ContainmentMode mode() const { return mode_; }
  // "cgroup v2 (/sys/fs/cgroup/procpool-12/...)": for the start-up log and `status`.
  const std::string& description() const { return description_; }

  // Before a slot's worker starts: its container, emptied of what an earlier worker left.
  // The fds live until started() or abandon_start().
  Placement prepare(unsigned slot);
  void started(unsigned slot, pid_t worker);
  void abandon_start();
  // Kills every process of the slot's container, its worker included (without waiting:
  // the worker's pidfd says when it is gone).
  void kill(unsigned slot);
  // The memory the slot's whole tree uses, in bytes: its cgroup's anonymous memory where
  // a memory controller counts it (page cache left out: reading files is no leak), else
  // the RSS of every process in it (the worker and its descendants, for process groups).
  uint64_t memory_bytes(unsigned slot, pid_t worker) const;
  // The kernel's own cap on each slot's memory (memory.max, memory.limit_in_bytes; swap
  // held to it too), so that a tree allocating faster than the limits are polled stops
  // in the allocation: the OOM killer ends it. False where no memory controller counts
  // the slots (the polled limit alone holds).
  bool limit_memory(uint64_t bytes);
  // Processes of the slot's container the OOM killer has killed, counted since the
  // container was made (compare two readings), and the most memory the container has
  // held since the slot's worker started; 0 where no memory controller counts them.
  uint64_t oom_kills(unsigned slot) const;
  uint64_t peak_memory(unsigned slot) const;
  // Process groups in procpool's own process: kill and reap adopted orphans, any child
  // that is not one of `workers`. Cheap to call on every tick.
  void reap_orphans(const std::vector<pid_t>& workers);

 private:
  static std::string slot_in(const std::string& pool, unsigned slot) { return pool + "/w" + std::to_string(slot); }
  std::string slot_dir(unsigned slot) const { return slot_in(pool_dir_, slot); }
  std::string make_pool(const std::string& own_dir, unsigned slots, std::string* why) const;
  void kill_cgroup(const std::string& dir) const;
  void start_keeper();
  static bool enable_controllers(const std::string& dir);
  void delegate_controllers(const std::string& own_dir) const;
  void limit_processes(unsigned max_procs);
  void find_memory();
  // A pool in the v1 hierarchy of this controller that the workers join as well.
  std::string join_v1(const char* controller, std::string* why);
  void drop_joined(const std::string& dir);
  // The memory.* file of a slot named `v2` in the v2 hierarchy and `v1` in v1.
  std::string memory_file(unsigned slot, const char* v2, const char* v1) const {
    return slot_in(memory_dir_, slot) + "/" + (memory_v2_ ? v2 : v1);
  }
  void reset_peak(unsigned slot) const;
  void close_placement();

  ContainmentMode mode_ = ContainmentMode::ProcessGroup;
  bool own_process_;
  std::string description_;
  std::string pool_name_;         // procpool-PID, or procpool-PID-N for the Nth pool of a process
  std::string pool_dir_;          // the pool's cgroup ("" for process groups)
  bool has_cgroup_kill_ = false;  // v2's cgroup.kill (Linux 5.14)
  std::vector<std::string> joined_;  // v1 pools the workers join besides pool_dir_
  std::string pids_dir_;    // where pids.max caps a slot: pool_dir_, one of joined_, or ""
  std::string memory_dir_;  // where a slot's memory.* files are: pool_dir_, one of joined_, or ""
  bool memory_v2_ = false;  // memory_dir_ is in the v2 hierarchy (its files' names differ)
  unsigned slots_ = 0;
  std::vector<pid_t> groups_;     // process groups: each slot's current leader
  Placement placement_;
  std::unique_ptr<Keeper> keeper_;
};

}  // namespace procpool::supervisor
