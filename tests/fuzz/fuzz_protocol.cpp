// serve's request parser on any line a client may send: a request or an error message,
// never a crash; a request it accepts is well formed (a submit has a kind and at least
// one input) and means the same when written back as JSON and parsed again, its kind
// options included (as a producer writes them: options_to_json).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ipc/kind_schema.hpp"
#include "supervisor/service/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace procpool::supervisor;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto r = parse_request(line, &error);
  if (!r) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  nlohmann::json j;
  switch (r->op) {
    case ClientRequest::Op::Stats: j = {{"op", "stats"}}; break;
    case ClientRequest::Op::Cancel: j = {{"op", "cancel"}, {"id", r->id}}; break;
    case ClientRequest::Op::Submit:
      if (r->inputs.empty()) std::abort();
      j = {{"op", "submit"}, {"kind", r->kind}, {"inputs", r->inputs}};
      if (!r->options.empty()) j["options"] = nlohmann::json::parse(procpool::options_to_json(r->options));
      break;
  }
  std::string again_error;
  const auto again = parse_request(j.dump(), &again_error);
  if (!again || again->op != r->op || again->kind != r->kind || again->inputs != r->inputs || again->id != r->id)
    std::abort();
  if (procpool::options_to_json(again->options) != procpool::options_to_json(r->options)) std::abort();
  return 0;
}
