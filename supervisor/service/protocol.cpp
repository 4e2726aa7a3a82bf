#include "supervisor/service/protocol.hpp"

#include <nlohmann/json.hpp>

#include "ipc/kind_schema.hpp"

namespace procpool::supervisor {

std::optional<ClientRequest> parse_request(std::string_view line, std::string* error) {
  using nlohmann::json;
  auto fail = [error](const char* message) {
    *error = message;
    return std::nullopt;
  };
  const json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("op") || !j["op"].is_string()) return fail("a request is a JSON object with an \"op\"");
  const std::string& op = j["op"].get_ref<const std::string&>();
  ClientRequest r;
  if (op == "stats") return r;
  if (op == "cancel") {
    if (!j.contains("id") || !j["id"].is_number_unsigned()) return fail("cancel needs an \"id\"");
    r.op = ClientRequest::Op::Cancel;
    r.id = j["id"].get<uint64_t>();
    return r;
  }
  if (op != "submit") {
    *error = "unknown op '" + op + "' (ops: submit, stats, cancel)";
    return std::nullopt;
  }
  r.op = ClientRequest::Op::Submit;
  if (!j.contains("kind") || !j["kind"].is_string()) return fail("submit needs a \"kind\"");
  r.kind = j["kind"].get<std::string>();
  if (!j.contains("inputs") || !j["inputs"].is_array() || j["inputs"].empty())
    return fail("submit needs \"inputs\": an array of strings");
  r.inputs.reserve(j["inputs"].size());
  for (const json& in : j["inputs"]) {
    if (!in.is_string()) return fail("submit needs \"inputs\": an array of strings");
    r.inputs.push_back(in.get<std::string>());
  }
  if (j.contains("options")) {
    auto options = options_from_json(j["options"].dump(), error);
    if (!options) return std::nullopt;
    r.options = std::move(*options);
  }
  return r;
}

}  // namespace procpool::supervisor
