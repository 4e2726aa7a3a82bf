// The gallery-listing parser (--links-from): arbitrary bytes as the listing, and as the
// path. Errors must be exceptions of the documented types, never anything else.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "child/kinds/links.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  // The first line is the path, the rest the document.
  const auto nl = in.find('\n');
  procpool::kinds::LinkQuery query;
  query.path = nl == std::string::npos ? "data[].link" : in.substr(0, nl);
  query.accept = {"image/jpeg", "image/*"};
  try {
    (void)procpool::kinds::extract_links(nl == std::string::npos ? in : in.substr(nl + 1), query);
  } catch (const std::invalid_argument&) {
  } catch (const std::runtime_error&) {
  }
  return 0;
}
