#include "child/kinds/file_mode.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace procpool::kinds {

namespace {
// The umask as /proc tells it (Linux 4.7+), so it is read without setting it: umask(2)
// can only be read by changing it, which races with any thread creating a file.
mode_t current_umask() {
  if (std::FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    unsigned long mask = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "Umask:", 6) != 0) continue;
      char* end = nullptr;
      mask = std::strtoul(line + 6, &end, 8);
      found = end != line + 6 && mask <= 0777;
    }
    std::fclose(f);
    if (found) return static_cast<mode_t>(mask);
  }
  const mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}
}  // namespace

mode_t output_file_mode() {
  static const mode_t mode = 0666 & ~current_umask();
  return mode;
}

}  // namespace procpool::kinds
