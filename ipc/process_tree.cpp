#include "ipc/process_tree.hpp"

#include <dirent.h>

#include <fstream>
#include <string>

namespace procpool::ipc {

std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return out;
  while (const dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
    for (long pid = 0; in >> pid;) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(tasks);
  return out;
}

}  // namespace procpool::ipc
