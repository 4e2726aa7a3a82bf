#pragma once
// HTTP helpers shared by the download kind, wordcount over URLs and the gallery listing:
// the limits every transfer has, retry rules, content-type matching, and a blocking fetch
// into memory for small documents.
#include <curl/curl.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "child/kinds/media_types.hpp"
#include "ipc/kind_options.hpp"

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
};

// Reads the limits from a kind's options (throws std::invalid_argument naming the option).
HttpLimits http_limits_from(const KindOptions& options);
// The options' keys, for the command line to pass its flags on.
inline constexpr const char* kHttpOptionKeys[] = {"connect-timeout", "max-time", "stall-timeout", "max-size",
                                                  "max-redirects",   "retries",  "retry-max-wait"};

// Applies limits, protocols (http and https only, also after redirects), redirects and
// the headers list to an easy handle. `headers` must outlive the handle's transfer.
void apply_http_limits(CURL* easy, const HttpLimits& limits, curl_slist* headers);
curl_slist* make_header_list(const std::vector<std::string>& headers);

// True if the URL is http:// or https:// with a host (checked with curl's own parser).
bool is_http_url(const std::string& url);

// Retry-After: delay-seconds or an HTTP date; milliseconds from now, nullopt if malformed.
std::optional<int64_t> parse_retry_after_ms(std::string_view value, std::time_t now);
bool retryable_status(long status);      // 408, 429, 5xx
bool retryable_error(CURLcode code);     // connection trouble, timeouts, cut-off bodies
// Backoff before retry number `retry` (1, 2, ...): 250 ms doubling, capped, +-20% jitter.
int64_t backoff_ms(int64_t retry, int64_t cap_ms);

// A blocking GET of a small document into memory, with retries. Returns "" on success,
// else an error message (naming the HTTP status or curl's reason).
std::string fetch_to_memory(const std::string& url, const HttpLimits& limits, std::string* body);

}  // namespace procpool::kinds
