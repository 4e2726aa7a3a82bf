// The test plugin: kinds that crash, hang or leak on purpose, for the lifecycle tests.
// Never part of procpool itself.
//
//   misbehave  input "segv" | "abort" | "exit3" | "hang" | "leak" (without bound) |
//              "hold:MB" (allocates MB and keeps it) | "sleep:MS" | "spin:US" (busy) |
//              "fork:ARG" (starts `sleep ARG` in a grandchild of its own and returns) |
//              "fail:N" (fails with an error message of N bytes, "why: xxx...") |
//              anything else (ok: echoes the input)
//   bad-start  its start() throws: a child that cannot start
//   amisbehave runs up to 8 tasks at once in one child (an AsyncTaskKind): "sleep:MS"
//              finishes after MS, "segv:MS" crashes the child after MS, "hang" never
//              finishes, anything else finishes at once (ok: echoes the input)
#include <poll.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <map>

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
    if (input.substr(0, 5) == "fork:") {  // a process that outlives its task, and its parent
      const std::string seconds(input.substr(5));
      const pid_t middle = fork();
      if (middle == 0) {
        if (fork() == 0) {
          execlp("sleep", "sleep", seconds.c_str(), static_cast<char*>(nullptr));
          _exit(127);
        }
        _exit(0);
      }
      waitpid(middle, nullptr, 0);
    }
    if (input.substr(0, 5) == "fail:")
      throw std::runtime_error("why: " + std::string(std::stoul(std::string(input.substr(5))), 'x'));
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

// Timers only: each task is a deadline; poll() sleeps until the nearest one (or a wake).
class AsyncMisbehave final : public procpool::AsyncTaskKind {
 public:
  uint32_t concurrency() const override { return 8; }
  void begin(uint64_t token, std::string input) override {
    using namespace std::chrono;
    auto at = steady_clock::now();
    bool crash = false;
    if (input.rfind("sleep:", 0) == 0) at += milliseconds(std::stoul(input.substr(6)));
    if (input.rfind("segv:", 0) == 0) {
      at += milliseconds(std::stoul(input.substr(5)));
      crash = true;
    }
    if (input == "hang") at = steady_clock::time_point::max();
    tasks_[token] = Task{at, crash, std::move(input)};
  }
  void poll(int wake_fd, int timeout_ms, const Finished& finished) override {
    using namespace std::chrono;
    auto now = steady_clock::now();
    auto until = now + milliseconds(timeout_ms);
    for (const auto& [token, task] : tasks_) until = std::min(until, task.at);
    if (until > now) {
      pollfd pfd{wake_fd, POLLIN, 0};
      const auto wait = duration_cast<milliseconds>(until - now).count() + 1;
      ::poll(wake_fd >= 0 ? &pfd : nullptr, wake_fd >= 0 ? 1 : 0, static_cast<int>(wait));
    }
    now = steady_clock::now();
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second.at > now) {
        ++it;
        continue;
      }
      if (it->second.crash) raise(SIGSEGV);
      procpool::TaskOutput out;
      out.data = it->second.input;
      const uint64_t token = it->first;
      it = tasks_.erase(it);
      finished(token, out);
    }
  }
  std::size_t running() const override { return tasks_.size(); }

 private:
  struct Task {
    std::chrono::steady_clock::time_point at;
    bool crash;
    std::string input;
  };
  std::map<uint64_t, Task> tasks_;
};

}  // namespace

PROCPOOL_PLUGIN(registry) {
  registry.add({"misbehave", "crashes, hangs or leaks as its input says (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<Misbehave>(); }});
  registry.add({"amisbehave", "runs 8 tasks at once per child; sleeps, crashes or hangs (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<AsyncMisbehave>(); }});
  registry.add({"bad-start", "cannot start (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<BadStart>(); }});
}
