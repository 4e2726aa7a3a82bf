#include "supervisor/engine/cgroup_fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace procpool::supervisor::cgroup {
namespace {

struct Mount {
  std::string root, point, type, options;
};

// /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER".
std::vector<Mount> cgroup_mounts() {
  std::vector<Mount> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string id, parent, dev, root, point, opts, word;
    s >> id >> parent >> dev >> root >> point >> opts;
    while (s >> word && word != "-") {
    }
    Mount m{root, point, "", ""};
    std::string source;
    s >> m.type >> source >> m.options;
    if (m.type == "cgroup" || m.type == "cgroup2") out.push_back(std::move(m));
  }
  return out;
}

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

}  // namespace

std::optional<Hierarchy> find_v2() {
  const auto path = own_path("", true);
  if (!path) return std::nullopt;
  for (const Mount& m : cgroup_mounts())
    if (m.type == "cgroup2") return relative(m, *path);
  return std::nullopt;
}

std::optional<Hierarchy> find_v1(const std::string& controller) {
  const auto path = own_path(controller, false);
  if (!path) return std::nullopt;
  for (const Mount& m : cgroup_mounts())
    if (m.type == "cgroup" && has_option(m.options, controller)) return relative(m, *path);
  return std::nullopt;
}

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
