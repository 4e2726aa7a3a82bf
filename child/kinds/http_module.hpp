#pragma once
// The interface of procpool_http.so: everything that needs libcurl (the download engine,
// fetching a document into memory). It is a module loaded on first use (http_loader.hpp)
// rather than a link dependency, because libcurl brings ~35 shared libraries (TLS,
// Kerberos, LDAP, ...) whose loading and constructors cost every worker process ~40 ms of
// start-up here, whether it ever downloads or not.
//
// Both sides are built from this header by the same compiler in one build, so C++ types
// cross it; the classes here have no base from the task API, so no type identity
// (dynamic_cast, typeid) is needed across the boundary.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "child/kinds/http_limits.hpp"
#include "child/task_api.hpp"

namespace procpool::kinds {

// Many transfers on one curl multi handle (download_engine.cpp). The download kind
// (download_kind.cpp) forwards the AsyncTaskKind calls to it.
class DownloadEngine {
 public:
  virtual ~DownloadEngine() = default;
  // Creates the output folder, removes dead workers' temporaries; throws if unusable.
  virtual void start() = 0;
  virtual void begin(uint64_t token, std::string url) = 0;
  virtual void poll(int wake_fd, int timeout_ms, const AsyncTaskKind::Finished& finished) = 0;
  virtual std::size_t running() const = 0;
};

// Where a streamed body goes (fetch_streamed): each attempt starts with restart(), then
// take() gets the body's pieces in order.
struct BodySink {
  std::function<void()> restart;
  std::function<void(std::string_view)> take;
};

struct PpHttpApi {
  std::unique_ptr<DownloadEngine> (*make_download_engine)(const DownloadSettings& settings);
  // A blocking GET into memory with retries: "" on success, else the error.
  std::string (*fetch_to_memory)(const std::string& url, const HttpLimits& limits, std::string* body);
  // A blocking GET whose body streams into sink, with retries: "" on success, else the error.
  std::string (*fetch_streamed)(const std::string& url, const HttpLimits& limits, const BodySink& sink);
};

}  // namespace procpool::kinds

extern "C" {
const procpool::kinds::PpHttpApi* procpool_http_api();
using PpHttpApiFn = const procpool::kinds::PpHttpApi* (*)();
inline constexpr const char* kPpHttpSymbol = "procpool_http_api";
inline constexpr const char* kPpHttpModule = "procpool_http.so";
}
