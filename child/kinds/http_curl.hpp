#pragma once
// libcurl helpers of the HTTP module (procpool_http.so, see http_module.hpp): options
// for every transfer, retry rules that read curl's results, a blocking fetch into memory.
#include <curl/curl.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "child/kinds/http_limits.hpp"
#include "child/kinds/http_module.hpp"

namespace procpool::kinds {

// Applies limits, protocols (http and https only, also after redirects), redirects and
// the headers list to an easy handle. `headers` must outlive the handle's transfer.
void apply_http_limits(CURL* easy, const HttpLimits& limits, curl_slist* headers);
curl_slist* make_header_list(const std::vector<std::string>& headers);

// True if the URL is http:// or https:// with a host (checked with curl's own parser).
bool is_http_url(const std::string& url);

// Retry-After: delay-seconds or an HTTP date; milliseconds from now, nullopt if malformed.
std::optional<int64_t> parse_retry_after_ms(std::string_view value, std::time_t now);
bool retryable_error(CURLcode code);     // connection trouble, timeouts, cut-off bodies
bool retryable_status(long status);  // 408, 429, 5xx
// Backoff before retry number `retry` (1, 2, ...): 250 ms doubling, capped, +-20% jitter.
int64_t backoff_ms(int64_t retry, int64_t cap_ms);

// A blocking GET whose body goes to sink.take() piece by piece as it arrives (memory stays
// bounded whatever its size), with retries: sink.restart() comes before each attempt.
// Bodies of non-2xx answers are not passed on. Returns "" on success, else an error
// message (naming the HTTP status or curl's reason).
std::string fetch_streamed(const std::string& url, const HttpLimits& limits, const BodySink& sink);
// The same into memory (a small document: a listing, a book).
std::string fetch_to_memory(const std::string& url, const HttpLimits& limits, std::string* body);

}  // namespace procpool::kinds
