// What the containment knows of its slots' memory: how much they hold, the kernel's cap
// on it, and the OOM killer's verdicts. The files (v2 | v1):
//   cap         memory.max | memory.limit_in_bytes, swap held to it: memory.swap.max=0 |
//               memory.memsw.limit_in_bytes = the cap (a tree must not escape into swap)
//   whole tree  memory.oom.group=1 (v2): an OOM kill takes the worker's whole container,
//               as every other kill does; v1 kills one process, the largest
//   verdicts    memory.events | memory.oom_control, line "oom_kill N"
//   peak        memory.peak | memory.max_usage_in_bytes (v1's is reset per worker)
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipc/process_tree.hpp"
#include "supervisor/engine/cgroup_fs.hpp"
#include "supervisor/engine/containment.hpp"
#include "supervisor/engine/proc_info.hpp"

namespace procpool::supervisor {
namespace {

// The worker and every descendant of it (bounded: a fork bomb is pids.max's business).
std::vector<pid_t> tree_of(pid_t root) {
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size() && tree.size() < 100000; ++i) {
    const std::vector<pid_t> children = ipc::children_of(tree[i]);
    tree.insert(tree.end(), children.begin(), children.end());
  }
  return tree;
}

// Processes that share one address space (CLONE_VM: vfork, a sanitizer's tracer) are
// counted once.
bool shares_memory_with_any(pid_t pid, const std::vector<pid_t>& counted) {
  for (pid_t other : counted)
    if (syscall(SYS_kcmp, pid, other, KCMP_VM, 0, 0) == 0) return true;
  return false;
}

}  // namespace

uint64_t Containment::memory_bytes(unsigned slot, pid_t worker) const {
  if (!memory_dir_.empty()) return cgroup::stat_value(memory_file(slot, "memory.stat", "memory.stat"),
                                                      memory_v2_ ? "anon" : "total_rss");
  const std::vector<pid_t> pids = mode_ == ContainmentMode::ProcessGroup ? tree_of(worker) : cgroup::procs(slot_dir(slot));
  uint64_t total = 0;
  std::vector<pid_t> counted;
  for (pid_t pid : pids) {
    if (shares_memory_with_any(pid, counted)) continue;
    counted.push_back(pid);
    total += resident_bytes(pid);
  }
  return total;
}

bool Containment::limit_memory(uint64_t bytes) {
  if (memory_dir_.empty() || bytes == 0) return false;
  const std::string cap = std::to_string(bytes);
  bool all = true;
  for (unsigned i = 0; i < slots_; ++i) {
    if (memory_v2_) {
      all &= cgroup::write_file(memory_file(i, "memory.max", ""), cap);
      cgroup::write_file(memory_file(i, "memory.swap.max", ""), "0");  // absent without swap
      cgroup::write_file(memory_file(i, "memory.oom.group", ""), "1");
      continue;
    }
    // memory+swap may never be below memory: whichever order a change needs, one of the
    // first two writes fails and the third makes it.
    const std::string memsw = memory_file(i, "", "memory.memsw.limit_in_bytes");
    cgroup::write_file(memsw, cap);
    all &= cgroup::write_file(memory_file(i, "", "memory.limit_in_bytes"), cap);
    cgroup::write_file(memsw, cap);
  }
  return all;
}

uint64_t Containment::oom_kills(unsigned slot) const {
  if (memory_dir_.empty() || slot >= slots_) return 0;
  return cgroup::stat_value(memory_file(slot, "memory.events", "memory.oom_control"), "oom_kill");
}

uint64_t Containment::peak_memory(unsigned slot) const {
  if (memory_dir_.empty() || slot >= slots_) return 0;
  return cgroup::read_number(memory_file(slot, "memory.peak", "memory.max_usage_in_bytes")).value_or(0);
}

void Containment::reset_peak(unsigned slot) const {
  if (!memory_dir_.empty() && !memory_v2_) cgroup::write_file(memory_file(slot, "", "memory.max_usage_in_bytes"), "0");
}

}  // namespace procpool::supervisor
