#include "supervisor/engine/admission.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

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

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1u << 30));
  return text;
}

}  // namespace

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
      if (available < limits_.memfree_bytes)
        why_ = "MemAvailable " + gib(available) + ", under --memfree " + gib(limits_.memfree_bytes);
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
