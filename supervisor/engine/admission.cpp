#include "supervisor/engine/admission.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ipc/units.hpp"

namespace procpool::supervisor {

namespace {

uint64_t meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    uint64_t kb = 0;
    fields >> kb;
    return kb * 1024;
  }
  return 0;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}


}  // namespace

std::string memfree_fit_note(uint64_t peak_bytes, uint64_t memfree_bytes, uint64_t total_bytes) {
  if (memfree_bytes == 0 || total_bytes == 0 || peak_bytes + memfree_bytes <= total_bytes) return "";
  return "a task peaked at " + bytes_text(peak_bytes) + " RSS, more than the " +
         bytes_text(total_bytes > memfree_bytes ? total_bytes - memfree_bytes : 0) + " that --memfree " + bytes_text(memfree_bytes) +
         " leaves of this machine's " + bytes_text(total_bytes) +
         ": while one that big runs no other task starts, and it may not fit itself";
}

uint64_t memory_available() { return meminfo("MemAvailable"); }
uint64_t memory_total() { return meminfo("MemTotal"); }

bool Admission::open(uint64_t now_ns) {
  if (!active()) return true;
  if (limits_.delay_ns != 0 && last_start_ns_ != 0 && now_ns - last_start_ns_ < limits_.delay_ns) return false;
  if (limits_.memfree_bytes == 0 && limits_.max_load <= 0) return true;
  if (read_ns_ == 0 || now_ns - read_ns_ >= 100'000'000) {
    read_ns_ = now_ns;
    why_.clear();
    if (limits_.memfree_bytes != 0) {
      const uint64_t available = memory_available();
      if (available < limits_.memfree_bytes) {
        why_ = "MemAvailable " + bytes_text(available) + ", under --memfree " + bytes_text(limits_.memfree_bytes);
        if (peak_bytes_ != 0) why_ += " (tasks so far peaked at " + bytes_text(peak_bytes_) + " RSS)";
      }
    }
    if (why_.empty() && limits_.max_load > 0) {
      const double load = load_average();
      if (load >= limits_.max_load) {
        char text[96];
        std::snprintf(text, sizeof text, "load average %.2f, not under --load %.2f", load, limits_.max_load);
        why_ = text;
      }
    }
    system_ok_ = why_.empty();
  }
  return system_ok_;
}

}  // namespace procpool::supervisor
