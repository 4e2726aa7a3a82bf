#include "child/kinds/http_curl.hpp"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <cctype>
#include <stdexcept>


namespace procpool::kinds {

curl_slist* make_header_list(const std::vector<std::string>& headers) {
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  return list;
}

void apply_http_limits(CURL* easy, const HttpLimits& limits, curl_slist* headers) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, limits.max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, static_cast<long>(limits.max_redirects));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(limits.connect_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.max_time_ms));
  // A stall: under 1 byte/s for stall-timeout seconds ends the attempt (then retried).
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(limits.stall_timeout_s));
  // Refused up front when the server announces a bigger body; counted while receiving too.
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits.max_bytes));
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "procpool/0.1");
  // (no CURLOPT_PIPEWAIT: behind a stalled HTTP/1.1 response it held other transfers back)
  if (!limits.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, limits.ca_file.c_str());
  if (headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
}

bool is_http_url(const std::string& url) {
  CURLU* u = curl_url();
  bool ok = false;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      const std::string s = scheme;
      ok = (s == "http" || s == "https") && host[0] != '\0';
    }
    curl_free(scheme);
    curl_free(host);
  }
  curl_url_cleanup(u);
  return ok;
}

std::optional<int64_t> parse_retry_after_ms(std::string_view value, std::time_t now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return int64_t{999'999'999} * 1000;  // absurd, but a number: the cap applies
    return std::stoll(std::string(value)) * 1000;
  }
  const std::time_t at = curl_getdate(std::string(value).c_str(), nullptr);
  if (at < 0) return std::nullopt;
  return at <= now ? 0 : static_cast<int64_t>(at - now) * 1000;
}

bool retryable_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool retryable_status(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

int64_t backoff_ms(int64_t retry, int64_t cap_ms) {
  int64_t ms = 250;
  for (int64_t i = 1; i < retry && ms < cap_ms; ++i) ms *= 2;
  ms = std::min(ms, cap_ms);
  thread_local std::minstd_rand rng{static_cast<unsigned>(getpid())};
  const int64_t jitter = ms / 5;
  return jitter == 0 ? ms : ms - jitter + static_cast<int64_t>(rng() % static_cast<unsigned>(2 * jitter + 1));
}

namespace {
struct StreamSink {
  CURL* easy;
  const BodySink* sink;
  int64_t max_bytes;
  int64_t received = 0;
  bool over = false;
};
size_t write_to_sink(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamSink*>(user);
  const size_t bytes = size * n;
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return bytes;  // an error page: the status says it all
  if (s->received + static_cast<int64_t>(bytes) > s->max_bytes) {
    s->over = true;
    return 0;
  }
  s->received += static_cast<int64_t>(bytes);
  s->sink->take(std::string_view(data, bytes));
  return bytes;
}
}  // namespace

std::string fetch_streamed(const std::string& url, const HttpLimits& limits, const BodySink& sink) {
  if (!is_http_url(url)) return "not an http:// or https:// URL";
  curl_slist* headers = make_header_list(limits.headers);
  CURL* easy = curl_easy_init();
  std::string error;
  for (int64_t attempt = 0;; ++attempt) {
    sink.restart();
    StreamSink stream{easy, &sink, limits.max_bytes};
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_reset(easy);
    apply_http_limits(easy, limits, headers);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_to_sink);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &stream);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    bool retry = false;
    if (stream.over || rc == CURLE_FILESIZE_EXCEEDED) {
      error = "body over the limit of " + std::to_string(limits.max_bytes) + " bytes";
    } else if (rc != CURLE_OK) {
      error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      retry = retryable_error(rc);
    } else if (status < 200 || status > 299) {
      error = "HTTP " + std::to_string(status);
      retry = retryable_status(status);
    } else {
      error.clear();
      break;
    }
    if (!retry || attempt >= limits.retries) break;
    usleep(static_cast<useconds_t>(backoff_ms(attempt + 1, limits.retry_max_wait_ms) * 1000));
  }
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  return error;
}

std::string fetch_to_memory(const std::string& url, const HttpLimits& limits, std::string* body) {
  const BodySink into_body{[body] { body->clear(); }, [body](std::string_view part) { body->append(part); }};
  std::string error = fetch_streamed(url, limits, into_body);
  if (!error.empty()) body->clear();
  return error;
}

}  // namespace procpool::kinds
