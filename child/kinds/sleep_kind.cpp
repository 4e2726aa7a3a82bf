// sleep: a task of a known length, for the lifecycle tests and the benchmarks.
#include <time.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>

#include "child/task_api.hpp"

namespace procpool::kinds {

namespace {

// Input: a whole number of milliseconds, at most a day.
class SleepKind final : public TaskKind {
 public:
  void run(std::string_view input, TaskOutput& out) override {
    uint64_t ms = 0;
    const auto [end, ec] = std::from_chars(input.data(), input.data() + input.size(), ms);
    if (input.empty() || ec != std::errc() || end != input.data() + input.size() || ms > kMaxMs) {
      out.fail("sleep: input must be a whole number of milliseconds from 0 to " +
               std::to_string(kMaxMs) + ", not '" + std::string(input.substr(0, 64)) + "'");
      return;
    }
    timespec left{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
  }

 private:
  static constexpr uint64_t kMaxMs = 86'400'000;
};

}  // namespace

void register_sleep_kind(KindRegistry& registry) {
  registry.add({"sleep", "sleeps for the input's milliseconds (for tests and benchmarks)",
                [](const KindOptions&) { return std::make_unique<SleepKind>(); }});
}

}  // namespace procpool::kinds
