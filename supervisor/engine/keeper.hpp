#pragma once
// The keeper: a small process forked at pool start that outlives a supervisor killed
// without warning (SIGKILL, OOM killer). The supervisor tells it what to kill; if the
// pipe between them closes without the supervisor's "done", the keeper kills the pool's
// containers (cgroup.kill, or every listed process group) and removes the cgroups.
// It runs only async-signal-safe calls (it is forked from a process that may have
// threads: the C++ API's), on paths prepared before the fork.
#include <sys/types.h>

#include <string>
#include <vector>

namespace procpool::supervisor {

class Keeper {
 public:
  // kill_files: files to write "1" to (v2's cgroup.kill); procs_dirs: cgroups whose
  // cgroup.procs are killed process by process (v1); rmdirs: removed after, in order.
  Keeper(const std::vector<std::string>& kill_files, const std::vector<std::string>& procs_dirs,
         const std::vector<std::string>& rmdirs);
  ~Keeper();  // "done": the keeper exits without touching anything
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;
  // The slot's worker leads this process group now: killed if the supervisor dies.
  void watch_group(unsigned slot, pid_t pgid);

 private:
  int pipe_ = -1;
};

}  // namespace procpool::supervisor
