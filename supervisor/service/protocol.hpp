#pragma once
// serve's request lines (docs/PROTOCOL.md), parsed apart from the server so that the
// parser can be fuzzed: any bytes in, a request or an error message out.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/kind_options.hpp"

namespace procpool::supervisor {

struct ClientRequest {
  enum class Op { Submit, Stats, Cancel };
  Op op = Op::Stats;
  std::string kind;                 // submit: the task kind's name (checked by the server)
  std::vector<std::string> inputs;  // submit: at least one
  // submit: the kind's options the request brings, as text (true/false, numbers in
  // decimal, a list as a JSON array of strings); checked against the kind by the server.
  KindOptions options;
  uint64_t id = 0;                  // cancel: the task id
};

// One line without its newline. nullopt with *error set when it is not a request.
std::optional<ClientRequest> parse_request(std::string_view line, std::string* error);

}  // namespace procpool::supervisor
