#pragma once
// The cgroup file systems as this process finds them: where the v2 hierarchy and the v1
// memory and pids hierarchies are mounted, which cgroup this process is in, and the
// small reads and writes of their control files. Knows nothing of workers.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace procpool::supervisor::cgroup {

// A hierarchy this process can see: the folder of its own cgroup in it.
struct Hierarchy {
  std::string mount;     // e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory
  std::string own_path;  // the process's cgroup, relative to the mount: "" or "/a/b"
  std::string own_dir() const { return mount + own_path; }
};

// One line of /proc/self/mountinfo, if it mounts a cgroup hierarchy: v2 (controller
// empty) or the v1 hierarchy that has `controller` among its options. Exposed for tests.
struct Mount {
  std::string root;   // the hierarchy's path that is mounted (its "/" unless namespaced)
  std::string point;  // where
};
std::optional<Mount> mount_of(const std::string& mountinfo_line, const std::string& controller);

// The v2 hierarchy, if one is mounted and this process is in it.
std::optional<Hierarchy> find_v2();
// The v1 hierarchy with this controller ("memory", "pids"), if one is mounted.
std::optional<Hierarchy> find_v1(const std::string& controller);

// Writes text to an existing control file; false with errno set if the kernel refuses.
bool write_file(const std::string& path, const std::string& text);
// The pids in a cgroup.procs file (empty when it cannot be read).
std::vector<pid_t> procs(const std::string& dir);
// Whether a file of space-separated words (cgroup.controllers) holds this one.
bool has_word(const std::string& file, const std::string& word);
// The number a one-value file holds (memory.peak); nullopt if it cannot be read ("max").
std::optional<uint64_t> read_number(const std::string& file);
// The value of a "KEY VALUE" line of a file such as memory.stat; 0 if it has none.
uint64_t stat_value(const std::string& file, const std::string& key);

}  // namespace procpool::supervisor::cgroup
