#include "supervisor/engine/containment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "ipc/process_tree.hpp"
#include "supervisor/engine/cgroup_fs.hpp"

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

namespace {
// A name of its own for each pool of this process (a program may run two Pools at once):
// two pools in one cgroup would kill each other's workers as strays.
std::string unique_pool_name() {
  static std::atomic<unsigned> made{0};
  const unsigned n = ++made;
  return "procpool-" + std::to_string(getpid()) + (n == 1 ? "" : "-" + std::to_string(n));
}
}  // namespace

Containment::Containment(ContainmentMode wanted, unsigned slots, bool own_process, unsigned max_procs,
                         uint64_t max_memory)
    : own_process_(own_process), pool_name_(unique_pool_name()), slots_(slots) {
  std::string why_not_v2 = "no cgroup v2 hierarchy is mounted";
  std::string why_not_v1 = "no cgroup v1 memory or pids hierarchy is mounted";
  if (wanted == ContainmentMode::Auto || wanted == ContainmentMode::CgroupV2) {
    const auto v2 = cgroup::find_v2();
    if (v2) delegate_controllers(v2->own_dir());
    if (v2 && !(pool_dir_ = make_pool(v2->own_dir(), slots, &why_not_v2)).empty()) {
      mode_ = ContainmentMode::CgroupV2;
      has_cgroup_kill_ = access((pool_dir_ + "/cgroup.kill").c_str(), W_OK) == 0;
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
  find_memory();
  if (limit_memory(max_memory)) description_ += "; memory capped by the kernel";
  start_keeper();  // first: the keeper must be init's orphan, not ours
  // Orphans that left their group come back here instead of to init (procpool's own
  // process only: a library must not change what happens to its program's orphans).
  if (mode_ == ContainmentMode::ProcessGroup && own_process_) prctl(PR_SET_CHILD_SUBREAPER, 1);
}

namespace {

// The controllers of `wanted` that dir offers its children (cgroup.controllers) and does
// not enable for them yet (cgroup.subtree_control): "+memory +pids", or "".
std::string missing_controllers(const std::string& dir) {
  std::string out;
  for (const char* c : {"memory", "pids"})
    if (cgroup::has_word(dir + "/cgroup.controllers", c) && !cgroup::has_word(dir + "/cgroup.subtree_control", c))
      out += std::string(out.empty() ? "" : " ") + "+" + c;
  return out;
}

}  // namespace

bool Containment::enable_controllers(const std::string& dir) {
  const std::string missing = missing_controllers(dir);
  return missing.empty() || cgroup::write_file(dir + "/cgroup.subtree_control", missing);
}

// v2 gives a cgroup's children only the controllers its cgroup.subtree_control enables,
// and enables none in a cgroup that holds processes (the root aside). procpool's own
// process, alone in a cgroup delegated to it (a service with Delegate=yes, a container),
// moves into a leaf of it, procpool-main, so that the workers' cgroups get memory and
// pids controllers; sharing its cgroup with others (a login shell), it moves nothing and
// the workers' cgroups only contain and kill. The leaf stays after exit, empty (systemd
// removes a stopped unit's cgroup; the next run reuses it).
void Containment::delegate_controllers(const std::string& own_dir) const {
  if (enable_controllers(own_dir) || errno != EBUSY || !own_process_) return;
  if (cgroup::procs(own_dir) != std::vector<pid_t>{getpid()}) return;
  const std::string leaf = own_dir + "/procpool-main";
  if (mkdir(leaf.c_str(), 0700) != 0 && errno != EEXIST) return;
  if (cgroup::write_file(leaf + "/cgroup.procs", "0")) enable_controllers(own_dir);
}

// The pool's cgroup beside this process's own: PARENT/procpool-PID/wN, owner only.
// Returns its folder, or "" with *why.
std::string Containment::make_pool(const std::string& own_dir, unsigned slots, std::string* why) const {
  if (access((own_dir + "/cgroup.procs").c_str(), W_OK) != 0) {
    *why = "cannot move processes in " + own_dir + ": " + std::strerror(errno);
    return "";
  }
  std::string pool = own_dir + "/" + pool_name_;
  if (mkdir(pool.c_str(), 0700) != 0 && errno != EEXIST) {
    *why = "cannot make " + pool + ": " + std::strerror(errno);
    return "";
  }
  enable_controllers(pool);  // v2: the slots count memory and pids where the pool may
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
  } else {
    pids_dir_ = join_v1("pids", &why);
  }
  for (unsigned i = 0; i < slots_ && !pids_dir_.empty(); ++i)
    if (!cgroup::write_file(slot_in(pids_dir_, i) + "/pids.max", std::to_string(max_procs))) {
      why = "cannot set " + slot_in(pids_dir_, i) + "/pids.max: " + std::strerror(errno);
      if (pids_dir_ != pool_dir_) drop_joined(pids_dir_);
      pids_dir_.clear();
    }
  if (pids_dir_.empty()) {
    description_ += "; processes not capped (" + why + ")";
    return;
  }
  description_ += "; at most " + std::to_string(max_procs) + " processes each" +
                  (pids_dir_ != pool_dir_ ? " (" + pids_dir_ + ")" : std::string());
}

// The memory controller that counts the slots: the containment's own hierarchy's, else a
// v1 memory hierarchy's that the workers join as well (a v2 containment whose hierarchy
// has no memory controller, as where v1 still holds it).
void Containment::find_memory() {
  if (mode_ == ContainmentMode::ProcessGroup) return;
  if (access((slot_dir(0) + "/memory.stat").c_str(), R_OK) == 0) {
    memory_dir_ = pool_dir_;
    memory_v2_ = mode_ == ContainmentMode::CgroupV2;
    return;
  }
  std::string why;
  memory_dir_ = join_v1("memory", &why);
  if (!memory_dir_.empty()) description_ += "; memory counted in " + memory_dir_;
}

std::string Containment::join_v1(const char* controller, std::string* why) {
  const auto v1 = cgroup::find_v1(controller);
  if (!v1) {
    *why = std::string("no ") + controller + " controller";
    return "";
  }
  std::string dir = make_pool(v1->own_dir(), slots_, why);
  if (!dir.empty() && dir != pool_dir_) joined_.push_back(dir);
  return dir;
}

void Containment::drop_joined(const std::string& dir) {
  for (unsigned i = 0; i < slots_; ++i) rmdir(slot_in(dir, i).c_str());
  rmdir(dir.c_str());
  joined_.erase(std::remove(joined_.begin(), joined_.end(), dir), joined_.end());
}

void Containment::start_keeper() {
  std::vector<std::string> kill_files, procs_dirs, rmdirs;
  if (mode_ == ContainmentMode::CgroupV2 && has_cgroup_kill_) kill_files.push_back(pool_dir_ + "/cgroup.kill");
  for (unsigned i = 0; i < slots_ && !pool_dir_.empty(); ++i) {
    procs_dirs.push_back(slot_dir(i));
    rmdirs.push_back(slot_dir(i));
  }
  if (!pool_dir_.empty()) rmdirs.push_back(pool_dir_);
  for (const std::string& joined : joined_) {
    for (unsigned i = 0; i < slots_; ++i) rmdirs.push_back(slot_in(joined, i));
    rmdirs.push_back(joined);
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
  while (!joined_.empty()) drop_joined(joined_.back());  // emptied with the containers above
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
  reset_peak(slot);
  std::vector<std::string> dirs{slot_dir(slot)};
  for (const std::string& joined : joined_) dirs.push_back(slot_in(joined, slot));
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

void Containment::reap_orphans(const std::vector<pid_t>& workers) {
  if (mode_ != ContainmentMode::ProcessGroup || !own_process_) return;
  for (pid_t pid : ipc::own_children()) {
    if (std::find(workers.begin(), workers.end(), pid) != workers.end()) continue;
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, WNOHANG);  // if not dead yet, its zombie is reaped next time
  }
}

}  // namespace procpool::supervisor
