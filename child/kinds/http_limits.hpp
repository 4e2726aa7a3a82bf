#pragma once
// The limits of every HTTP transfer (download, wordcount over URLs, the gallery listing),
// read from a kind's options. Free of libcurl: the command line and every worker read
// them, only procpool_http.so transfers.
#include <cstdint>
#include <string>
#include <vector>

#include "ipc/kind_options.hpp"
#include "ipc/kind_schema.hpp"

namespace procpool::kinds {

// Every limit has a default; each is a kind option (and a command-line flag).
struct HttpLimits {
  int64_t connect_timeout_ms = 10'000;   // connect-timeout
  int64_t max_time_ms = 300'000;         // max-time: one attempt, start to end
  int64_t stall_timeout_s = 30;          // stall-timeout: no byte received for this long
  int64_t max_bytes = int64_t{1} << 30;  // max-size: body bytes (decoded)
  int64_t max_redirects = 10;            // max-redirects
  int64_t retries = 3;                   // retries: extra attempts for retryable failures
  int64_t retry_max_wait_ms = 60'000;    // retry-max-wait: cap on backoff and Retry-After
  std::vector<std::string> headers;      // header: "Name: value" lines
  std::string ca_file;                   // ca-file: CAs to trust instead of the system's; "" the system's
};

// The options of the limits, for the schema of every kind that fetches over HTTP, with
// the largest body's default.
std::vector<OptionSpec> http_limit_options(const std::string& max_size);
// Reads the limits from a kind's checked options (throws std::invalid_argument naming
// the option for a malformed header).
HttpLimits http_limits_from(const KindOptions& options);

// What the download kind needs besides the limits.
struct DownloadSettings {
  std::string out_dir = ".";
  std::vector<std::string> accept;  // media types to keep; empty: any
  HttpLimits limits;
  uint32_t concurrency = 32;
  bool overwrite = false;
};

}  // namespace procpool::kinds
