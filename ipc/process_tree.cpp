#include "ipc/process_tree.hpp"

#include <dirent.h>
#include <signal.h>

#include <cerrno>

#include <fstream>
#include <string>

namespace procpool::ipc {

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return out;
  while (const dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/children");
    for (long pid = 0; in >> pid;) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(tasks);
  return out;
}

bool process_lives(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

}  // namespace procpool::ipc
