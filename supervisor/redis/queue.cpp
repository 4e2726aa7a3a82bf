#include "supervisor/redis/queue.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "ipc/kind_schema.hpp"

namespace procpool::supervisor::redis {
namespace {

std::string field(const std::vector<std::string>& fields, const std::string& name) {
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
    if (fields[i] == name) return fields[i + 1];
  return {};
}

}  // namespace

std::string jobs_key(const std::string& queue) { return "pp:{" + queue + "}:jobs"; }
std::string dead_key(const std::string& queue) { return "pp:{" + queue + "}:dead"; }
std::string done_key(const std::string& queue, const std::string& job) { return "pp:{" + queue + "}:done:" + job; }
std::string reply_key(const std::string& queue, const std::string& client) {
  return "pp:{" + queue + "}:reply:" + client;
}

std::vector<std::string> xadd_command(const std::string& queue, const Entry& entry) {
  std::vector<std::string> argv{"XADD",   jobs_key(queue), "*", "job", entry.job, "kind", entry.kind, "inputs",
                                nlohmann::json(entry.inputs).dump(), "reply", entry.reply};
  if (!entry.options.empty()) {
    argv.emplace_back("options");
    argv.push_back(options_to_json(entry.options));
  }
  if (entry.max_attempts != 0) {
    argv.emplace_back("max_attempts");
    argv.push_back(std::to_string(entry.max_attempts));
  }
  return argv;
}

bool decode_entry(const std::vector<std::string>& fields, Entry* out, std::string* why) {
  Entry& e = *out;
  e.job = field(fields, "job");
  e.kind = field(fields, "kind");
  e.reply = field(fields, "reply");
  const auto inputs = nlohmann::json::parse(field(fields, "inputs"), nullptr, false);
  if (e.job.empty()) *why = "the entry has no \"job\" field";
  else if (e.kind.empty()) *why = "the entry has no \"kind\" field";
  else if (e.reply.empty()) *why = "the entry has no \"reply\" field";
  else if (!inputs.is_array() || inputs.empty()) *why = "\"inputs\" must be a JSON array of strings, not empty";
  if (!why->empty()) return false;
  e.inputs.reserve(inputs.size());
  for (const auto& in : inputs) {
    if (!in.is_string()) {
      *why = "\"inputs\" must be a JSON array of strings";
      return false;
    }
    e.inputs.push_back(in.get<std::string>());
  }
  // Not a reason to refuse the entry: an unreadable count leaves the host's default.
  if (const std::string m = field(fields, "max_attempts"); !m.empty()) {
    char* end = nullptr;
    const long long given = std::strtoll(m.c_str(), &end, 10);
    if (end != m.c_str() && *end == '\0') e.max_attempts = static_cast<unsigned>(std::clamp(given, 1LL, 100LL));
  }
  const std::string options = field(fields, "options");
  if (options.empty()) return true;
  auto parsed = options_from_json(options, why);
  if (!parsed) return false;
  e.options = std::move(*parsed);
  return true;
}

}  // namespace procpool::supervisor::redis
