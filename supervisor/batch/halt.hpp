#pragma once
// --halt, as GNU parallel has it: stop the run when so many tasks failed, succeeded or
// ended: "soon" starts no more tasks and waits for the running ones, "now" kills them.
//   never | soon,fail=N | now,fail=N% | soon,success=N | now,done=N% | ...
//   and the old numbers: 0 never, 1 soon,fail=1, 2 now,fail=1, -1 soon,success=1,
//   -2 now,success=1, 1%..99% soon,fail=N%.
#include <cstdint>
#include <optional>
#include <string>

namespace procpool::supervisor {

struct HaltPolicy {
  enum class When { never, soon, now } when = When::never;
  enum class Count { fail, success, done } count = Count::fail;
  unsigned n = 1;        // tasks, or percent of all of them
  bool percent = false;

  // Whether the run stops, given the tasks ended so far and the run's total.
  bool reached(uint64_t failed, uint64_t succeeded, uint64_t total) const;
  std::string text() const;  // as it would be written: "soon,fail=1"
};

// nullopt when text is none of the forms above.
std::optional<HaltPolicy> parse_halt(const std::string& text);

}  // namespace procpool::supervisor
