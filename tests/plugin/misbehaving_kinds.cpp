// The test plugin: kinds that crash, hang or leak on purpose, for the lifecycle tests.
// Never part of procpool itself.
//
//   misbehave  input "segv" | "abort" | "exit3" | "hang" | "leak" (without bound) |
//              "hold:MB" (allocates MB and keeps it) | "sleep:MS" | "spin:US" (busy) |
//              anything else (ok: echoes the input)
//   bad-start  its start() throws: a child that cannot start
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "child/task_api.hpp"

namespace {

class Misbehave final : public procpool::TaskKind {
 public:
  ~Misbehave() override {
    for (char* block : held_) std::free(block);  // held on purpose, not leaked (LeakSanitizer)
  }
  void run(std::string_view input, procpool::TaskOutput& out) override {
    if (input == "segv") raise(SIGSEGV);
    if (input == "abort") std::abort();
    if (input == "exit3") _exit(3);
    if (input == "hang")
      for (;;) pause();
    if (input == "leak") {
      std::vector<char*> hoard;
      for (;;) {  // 64 MiB at a time, touched so it is really resident
        char* block = static_cast<char*>(std::malloc(64 << 20));
        if (block == nullptr) throw std::bad_alloc();
        std::memset(block, 1, 64 << 20);
        hoard.push_back(block);
      }
    }
    if (input.substr(0, 6) == "sleep:") usleep(static_cast<useconds_t>(std::stoul(std::string(input.substr(6))) * 1000));
    if (input.substr(0, 5) == "spin:") {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(std::stoul(std::string(input.substr(5))));
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    if (input.substr(0, 5) == "hold:") {
      const std::size_t bytes = std::stoul(std::string(input.substr(5))) << 20;
      char* block = static_cast<char*>(std::malloc(bytes));
      if (block == nullptr) throw std::bad_alloc();
      std::memset(block, 1, bytes);
      held_.push_back(block);  // kept: the child's RSS grows task by task
    }
    out.data = std::string(input);
  }

 private:
  std::vector<char*> held_;
};

class BadStart final : public procpool::TaskKind {
 public:
  void start() override { throw std::runtime_error("initializer failed on purpose"); }
  void run(std::string_view, procpool::TaskOutput&) override {}
};

}  // namespace

PROCPOOL_PLUGIN(registry) {
  registry.add({"misbehave", "crashes, hangs or leaks as its input says (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<Misbehave>(); }});
  registry.add({"bad-start", "cannot start (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<BadStart>(); }});
}
