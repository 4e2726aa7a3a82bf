#include "supervisor/engine/containment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <linux/kcmp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "ipc/process_tree.hpp"
#include "supervisor/engine/cgroup_fs.hpp"
#include "supervisor/engine/proc_info.hpp"

namespace procpool::supervisor {
namespace {

constexpr int kKillRounds = 20;  // v1: a tree that forks while it is killed needs several

}  // namespace

const char* containment_name(ContainmentMode mode) {
  switch (mode) {
    case ContainmentMode::Auto: return "auto";
    case ContainmentMode::CgroupV2: return "cgroup2";
    case ContainmentMode::CgroupV1: return "cgroup1";
    case ContainmentMode::ProcessGroup: return "process-group";
  }
  return "?";
}

std::optional<ContainmentMode> containment_from_name(std::string_view name) {
  for (ContainmentMode m : {ContainmentMode::Auto, ContainmentMode::CgroupV2, ContainmentMode::CgroupV1,
                            ContainmentMode::ProcessGroup})
    if (name == containment_name(m)) return m;
  return std::nullopt;
}

Containment::Containment(ContainmentMode wanted, unsigned slots, bool own_process, unsigned max_procs)
    : own_process_(own_process), slots_(slots) {
  std::string why_not_v2 = "no cgroup v2 hierarchy is mounted";
  std::string why_not_v1 = "no cgroup v1 memory or pids hierarchy is mounted";
  if (wanted == ContainmentMode::Auto || wanted == ContainmentMode::CgroupV2) {
    if (const auto v2 = cgroup::find_v2(); v2 && !(pool_dir_ = make_pool(v2->own_dir(), slots, &why_not_v2)).empty()) {
      mode_ = ContainmentMode::CgroupV2;
      has_cgroup_kill_ = access((pool_dir_ + "/cgroup.kill").c_str(), W_OK) == 0;
      if (access((slot_dir(0) + "/memory.stat").c_str(), R_OK) == 0) anon_key_ = "anon";
      description_ = "cgroup v2 (" + pool_dir_ + ")";
    } else if (wanted == ContainmentMode::CgroupV2) {
      throw std::runtime_error("containment cgroup2 is not available here: " + why_not_v2);
    }
  }
  if (pool_dir_.empty() && (wanted == ContainmentMode::Auto || wanted == ContainmentMode::CgroupV1)) {
    for (const char* controller : {"memory", "pids"}) {
      const auto v1 = cgroup::find_v1(controller);
      if (v1 && !(pool_dir_ = make_pool(v1->own_dir(), slots, &why_not_v1)).empty()) break;
    }
    if (!pool_dir_.empty()) {
      mode_ = ContainmentMode::CgroupV1;
      if (access((slot_dir(0) + "/memory.stat").c_str(), R_OK) == 0) anon_key_ = "total_rss";
      description_ = "cgroup v1 (" + pool_dir_ + ")";
    } else if (wanted == ContainmentMode::CgroupV1) {
      throw std::runtime_error("containment cgroup1 is not available here: " + why_not_v1);
    }
  }
  if (pool_dir_.empty()) {
    mode_ = ContainmentMode::ProcessGroup;
    groups_.assign(slots, 0);
    description_ = "process groups";
    if (wanted == ContainmentMode::Auto) description_ += " (no cgroup: " + why_not_v2 + "; " + why_not_v1 + ")";
  }
  limit_processes(max_procs);
  start_keeper();  // first: the keeper must be init's orphan, not ours
  // Orphans that left their group come back here instead of to init (procpool's own
  // process only: a library must not change what happens to its program's orphans).
  if (mode_ == ContainmentMode::ProcessGroup && own_process_) prctl(PR_SET_CHILD_SUBREAPER, 1);
}

// The pool's cgroup beside this process's own: PARENT/procpool-PID/wN, owner only.
// Returns its folder, or "" with *why.
std::string Containment::make_pool(const std::string& own_dir, unsigned slots, std::string* why) {
  if (access((own_dir + "/cgroup.procs").c_str(), W_OK) != 0) {
    *why = "cannot move processes in " + own_dir + ": " + std::strerror(errno);
    return "";
  }
  std::string pool = own_dir + "/procpool-" + std::to_string(getpid());
  if (mkdir(pool.c_str(), 0700) != 0 && errno != EEXIST) {
    *why = "cannot make " + pool + ": " + std::strerror(errno);
    return "";
  }
  for (unsigned i = 0; i < slots; ++i) {
    if (mkdir(slot_in(pool, i).c_str(), 0700) == 0 || errno == EEXIST) continue;
    *why = "cannot make " + slot_in(pool, i) + ": " + std::strerror(errno);
    for (unsigned j = 0; j < i; ++j) rmdir(slot_in(pool, j).c_str());
    rmdir(pool.c_str());
    return "";
  }
  return pool;
}

// pids.max where a pids controller counts the slot: in the containment's own hierarchy,
// else in a v1 pids hierarchy the workers join as well. Where none can be set, the pool
// runs uncapped and says so (status, the start-up log).
void Containment::limit_processes(unsigned max_procs) {
  if (max_procs == 0 || mode_ == ContainmentMode::ProcessGroup) return;
  std::string why = "no pids controller";
  if (access((slot_dir(0) + "/pids.max").c_str(), W_OK) == 0) {
    pids_dir_ = pool_dir_;
  } else if (const auto v1 = cgroup::find_v1("pids")) {
    pids_dir_ = make_pool(v1->own_dir(), slots_, &why);
  }
  for (unsigned i = 0; i < slots_ && !pids_dir_.empty(); ++i)
    if (!cgroup::write_file(slot_in(pids_dir_, i) + "/pids.max", std::to_string(max_procs))) {
      why = "cannot set " + slot_in(pids_dir_, i) + "/pids.max: " + std::strerror(errno);
      remove_pids_pool();
    }
  if (pids_dir_.empty()) {
    description_ += "; processes not capped (" + why + ")";
    return;
  }
  description_ += "; at most " + std::to_string(max_procs) + " processes each" +
                  (separate_pids() ? " (" + pids_dir_ + ")" : std::string());
}

void Containment::remove_pids_pool() {
  if (separate_pids()) {
    for (unsigned i = 0; i < slots_; ++i) rmdir(slot_in(pids_dir_, i).c_str());
    rmdir(pids_dir_.c_str());
  }
  pids_dir_.clear();
}

void Containment::start_keeper() {
  std::vector<std::string> kill_files, procs_dirs, rmdirs;
  if (mode_ == ContainmentMode::CgroupV2 && has_cgroup_kill_) kill_files.push_back(pool_dir_ + "/cgroup.kill");
  for (unsigned i = 0; i < slots_ && !pool_dir_.empty(); ++i) {
    procs_dirs.push_back(slot_dir(i));
    rmdirs.push_back(slot_dir(i));
  }
  if (!pool_dir_.empty()) rmdirs.push_back(pool_dir_);
  if (separate_pids()) {
    for (unsigned i = 0; i < slots_; ++i) rmdirs.push_back(slot_in(pids_dir_, i));
    rmdirs.push_back(pids_dir_);
  }
  keeper_ = std::make_unique<Keeper>(kill_files, procs_dirs, rmdirs);
}

Containment::~Containment() {
  for (unsigned i = 0; i < slots_; ++i) kill(i);
  if (!pool_dir_.empty()) {
    // Killed processes leave their cgroup as they exit: wait for that, within reason.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (unsigned i = 0; i < slots_; ++i)
      while (rmdir(slot_dir(i).c_str()) != 0 && errno == EBUSY && std::chrono::steady_clock::now() < deadline) {
        kill(i);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    rmdir(pool_dir_.c_str());  // left behind only if something outlived the wait: the keeper retries
  }
  remove_pids_pool();  // emptied with the containers above
  close_placement();
  keeper_.reset();
}

Placement Containment::prepare(unsigned slot) {
  close_placement();
  if (mode_ == ContainmentMode::ProcessGroup) {
    if (groups_[slot] != 0) ::kill(-groups_[slot], SIGKILL);  // what the last worker's tasks left
    placement_.own_process_group = true;
    return placement_;
  }
  kill_cgroup(slot_dir(slot));
  std::vector<std::string> dirs{slot_dir(slot)};
  if (separate_pids()) dirs.push_back(slot_in(pids_dir_, slot));
  for (const std::string& dir : dirs) {
    const int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      close_placement();
      throw std::runtime_error("cannot open " + dir + "/cgroup.procs: " + std::strerror(err));
    }
    placement_.procs_fds.push_back(fd);
  }
  return placement_;
}

void Containment::started(unsigned slot, pid_t worker) {
  close_placement();
  if (mode_ != ContainmentMode::ProcessGroup) return;
  groups_[slot] = worker;  // it leads a group of its own (setpgid before its exec)
  keeper_->watch_group(slot, worker);
}

void Containment::abandon_start() { close_placement(); }

void Containment::close_placement() {
  for (int fd : placement_.procs_fds) ::close(fd);
  placement_ = Placement{};
}

void Containment::kill(unsigned slot) {
  if (slot >= slots_) return;
  if (mode_ == ContainmentMode::ProcessGroup) {
    if (groups_[slot] != 0) ::kill(-groups_[slot], SIGKILL);
    return;
  }
  kill_cgroup(slot_dir(slot));
}

void Containment::kill_cgroup(const std::string& dir) const {
  if (has_cgroup_kill_) {
    cgroup::write_file(dir + "/cgroup.kill", "1");  // the kernel kills the whole tree, forks included
    return;
  }
  for (int round = 0; round < kKillRounds; ++round) {
    const std::vector<pid_t> pids = cgroup::procs(dir);
    if (pids.empty()) return;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
  }
}

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
  if (!anon_key_.empty()) return cgroup::stat_value(slot_dir(slot) + "/memory.stat", anon_key_);
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

void Containment::reap_orphans(const std::vector<pid_t>& workers) {
  if (mode_ != ContainmentMode::ProcessGroup || !own_process_) return;
  for (pid_t pid : ipc::own_children()) {
    if (std::find(workers.begin(), workers.end(), pid) != workers.end()) continue;
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, WNOHANG);  // if not dead yet, its zombie is reaped next time
  }
}

}  // namespace procpool::supervisor
