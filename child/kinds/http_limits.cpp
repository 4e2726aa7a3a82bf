#include "child/kinds/http_limits.hpp"

#include <algorithm>
#include <stdexcept>

namespace procpool::kinds {

std::vector<OptionSpec> http_limit_options(const std::string& max_size) {
  return {
      opt::list("header", "send 'Name: value' (repeatable); ${VAR} is replaced by the environment variable VAR, "
                          "e.g. 'Authorization: Client-ID ${IMGUR_CLIENT_ID}'", "'NAME: VALUE'")
          .with_env(),
      opt::seconds("connect-timeout", "10", 0.001, 3600, "seconds to connect"),
      opt::seconds("max-time", "300", 0.001, 30 * 86400, "seconds for one attempt of a transfer"),
      opt::seconds("stall-timeout", "30", 0.001, 86400,
                   "give up an attempt after SECONDS without a byte (whole seconds, rounded up)"),
      opt::size("max-size", max_size, 0, int64_t{1} << 50, "largest body"),
      opt::integer("max-redirects", "10", 0, 100, "redirects to follow"),
      opt::integer("http-retries", "3", 0, 100,
                   "retries after a connection error, a stall, 408, 429 or 5xx, with exponential backoff or "
                   "the server's Retry-After"),
      opt::seconds("retry-max-wait", "60", 0, 86400, "longest wait before a retry"),
      opt::text("ca-file", "", "trust the CA certificates of this PEM file instead of the system's (a private CA)",
                "FILE")
          .a_local_path(),
  };
}

HttpLimits http_limits_from(const KindOptions& options) {
  HttpLimits l;
  l.connect_timeout_ms = options.milliseconds("connect-timeout");
  l.max_time_ms = options.milliseconds("max-time");
  l.stall_timeout_s = std::max<int64_t>(1, (options.milliseconds("stall-timeout") + 999) / 1000);
  l.max_bytes = options.integer("max-size");
  l.max_redirects = options.integer("max-redirects");
  l.retries = options.integer("http-retries");
  l.retry_max_wait_ms = options.milliseconds("retry-max-wait");
  l.ca_file = options.get("ca-file", "");
  for (const std::string& h : options.list("header")) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos)
      throw std::invalid_argument("option 'header' must be 'Name: value', not '" + h + "'");
    l.headers.push_back(h);
  }
  return l;
}

}  // namespace procpool::kinds
