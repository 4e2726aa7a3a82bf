// A Redis host's decoder of queue entries, on any fields anyone with access to the Redis
// server may have written (the input is split at NUL bytes into name, value, ...): a
// refusal always says why; an entry it accepts has a job, a kind, a reply and inputs,
// and means the same when written back as a producer writes it and decoded again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ipc/kind_schema.hpp"
#include "supervisor/redis/queue.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace procpool::supervisor::redis;
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) fields.emplace_back();
    else fields.back().push_back(static_cast<char>(data[i]));
  }
  Entry e;
  std::string why;
  if (!decode_entry(fields, &e, &why)) {
    if (why.empty()) std::abort();
    return 0;
  }
  if (e.job.empty() || e.kind.empty() || e.reply.empty() || e.inputs.empty() || e.max_attempts > 100) std::abort();
  const std::vector<std::string> xadd = xadd_command("q", e);
  if (xadd.size() < 3 || xadd[0] != "XADD" || xadd[1] != jobs_key("q") || xadd[2] != "*") std::abort();
  Entry again;
  std::string again_why;
  if (!decode_entry(std::vector<std::string>(xadd.begin() + 3, xadd.end()), &again, &again_why)) std::abort();
  if (again.job != e.job || again.kind != e.kind || again.reply != e.reply || again.inputs != e.inputs ||
      again.max_attempts != e.max_attempts ||
      procpool::options_to_json(again.options) != procpool::options_to_json(e.options))
    std::abort();
  return 0;
}
