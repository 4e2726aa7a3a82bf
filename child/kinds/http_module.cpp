// The entry point of procpool_http.so (see http_module.hpp).
#include "child/kinds/http_curl.hpp"
#include "child/kinds/http_module.hpp"

namespace procpool::kinds {
std::unique_ptr<DownloadEngine> make_download_engine(const DownloadSettings& settings);  // download_engine.cpp

namespace {
bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}
std::string fetch(const std::string& url, const HttpLimits& limits, std::string* body) {
  if (!curl_ready()) return "libcurl cannot start";
  return fetch_to_memory(url, limits, body);
}
std::string stream(const std::string& url, const HttpLimits& limits, const BodySink& sink) {
  if (!curl_ready()) return "libcurl cannot start";
  return fetch_streamed(url, limits, sink);
}
}  // namespace
}  // namespace procpool::kinds

extern "C" __attribute__((visibility("default"))) const procpool::kinds::PpHttpApi* procpool_http_api() {
  static const procpool::kinds::PpHttpApi api{&procpool::kinds::make_download_engine, &procpool::kinds::fetch,
                                                  &procpool::kinds::stream};
  return &api;
}
