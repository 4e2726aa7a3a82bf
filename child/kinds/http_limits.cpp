#include "child/kinds/http_limits.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace procpool::kinds {

HttpLimits http_limits_from(const KindOptions& options) {
  HttpLimits l;
  l.connect_timeout_ms = options.get_int("connect-timeout", l.connect_timeout_ms, 1, 3'600'000);
  l.max_time_ms = options.get_int("max-time", l.max_time_ms, 1, 30LL * 86'400'000);
  l.stall_timeout_s = options.get_int("stall-timeout", l.stall_timeout_s, 1, 86'400);
  l.max_bytes = options.get_int("max-size", l.max_bytes, 0, int64_t{1} << 50);
  l.max_redirects = options.get_int("max-redirects", l.max_redirects, 0, 100);
  l.retries = options.get_int("retries", l.retries, 0, 100);
  l.retry_max_wait_ms = options.get_int("retry-max-wait", l.retry_max_wait_ms, 0, 86'400'000);
  // A JSON array of strings (option values are single lines).
  const auto list = nlohmann::json::parse(options.get("headers", "[]"), nullptr, false);
  if (!list.is_array()) throw std::invalid_argument("headers must be a JSON array of 'Name: value' strings");
  for (const auto& item : list) {
    if (!item.is_string()) throw std::invalid_argument("headers must be a JSON array of 'Name: value' strings");
    const std::string h = item.get<std::string>();
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos)
      throw std::invalid_argument("a header must be 'Name: value', not '" + h + "'");
    l.headers.push_back(h);
  }
  return l;
}

}  // namespace procpool::kinds
