#include "supervisor/engine/cgroup_fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace procpool::supervisor::cgroup {
namespace {

bool has_option(const std::string& options, const std::string& name) {
  std::istringstream s(options);
  for (std::string o; std::getline(s, o, ',');)
    if (o == name) return true;
  return false;
}

// /proc/self/cgroup: "ID:CONTROLLERS:PATH"; v2's line is "0::PATH".
std::optional<std::string> own_path(const std::string& controller, bool v2) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (v2 ? (line.compare(0, a, "0") == 0 && controllers.empty()) : has_option(controllers, controller))
      return line.substr(b + 1);
  }
  return std::nullopt;
}

// The mount shows the hierarchy from `root` down (a container's view): the own path
// relative to it, or nullopt if the process sits outside what is mounted.
std::optional<Hierarchy> relative(const Mount& m, const std::string& path) {
  if (m.root == "/") return Hierarchy{m.point, path == "/" ? "" : path};
  if (path.compare(0, m.root.size(), m.root) != 0) return std::nullopt;
  return Hierarchy{m.point, path.substr(m.root.size())};
}

// The hierarchy of `controller` (v2 when empty) as mounted, seen from this process.
std::optional<Hierarchy> find(const std::string& controller) {
  const auto path = own_path(controller, controller.empty());
  if (!path) return std::nullopt;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (const auto m = mount_of(line, controller)) return relative(*m, *path);
  return std::nullopt;
}

}  // namespace

std::optional<Mount> mount_of(const std::string& line, const std::string& controller) {
  // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
  const auto dash = line.find(" - ");
  if (dash == std::string::npos) return std::nullopt;
  std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
  std::string id, parent, dev, fstype, source, super;
  Mount mount;
  if (!(head >> id >> parent >> dev >> mount.root >> mount.point) || !(tail >> fstype >> source >> super))
    return std::nullopt;
  if (controller.empty() ? fstype != "cgroup2" : fstype != "cgroup" || !has_option(super, controller))
    return std::nullopt;
  return mount;
}

std::optional<Hierarchy> find_v2() { return find(""); }

std::optional<Hierarchy> find_v1(const std::string& controller) { return find(controller); }

bool write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

std::vector<pid_t> procs(const std::string& dir) {
  std::vector<pid_t> out;
  std::ifstream in(dir + "/cgroup.procs");
  for (long pid = 0; in >> pid;) out.push_back(static_cast<pid_t>(pid));
  return out;
}

uint64_t stat_value(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

bool has_word(const std::string& file, const std::string& word) {
  std::ifstream in(file);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

std::optional<uint64_t> read_number(const std::string& file) {
  std::ifstream in(file);
  uint64_t v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

}  // namespace procpool::supervisor::cgroup
