// The gallery-listing parser (--links-from): arbitrary bytes as the listing, and as the
// path. Errors are exceptions of the documented types, never anything else; and the
// --accept filter only ever takes links out: read without it, the same listing gives
// every link it gives with it, in the same order, and each link is counted once, as kept,
// filtered or invalid.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "child/kinds/links.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

enum class Outcome { Links, BadPath, BadDocument };

Outcome read(const std::string& document, const procpool::kinds::LinkQuery& query, procpool::kinds::Links* out) {
  try {
    *out = procpool::kinds::extract_links(document, query);
    return Outcome::Links;
  } catch (const std::invalid_argument&) {
    return Outcome::BadPath;
  } catch (const std::runtime_error& e) {
    check(e.what()[0] != '\0');  // says what is wrong
    return Outcome::BadDocument;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  // The first line is the path, the rest the document.
  const auto nl = in.find('\n');
  procpool::kinds::LinkQuery query;
  query.path = nl == std::string::npos ? "data[].link" : in.substr(0, nl);
  const std::string document = nl == std::string::npos ? in : in.substr(nl + 1);
  procpool::kinds::Links all, accepted;
  const Outcome any_type = read(document, query, &all);
  query.accept = {"image/jpeg", "image/*"};
  const Outcome filtered = read(document, query, &accepted);
  check(any_type == filtered);  // the filter never decides whether the listing reads
  if (any_type != Outcome::Links) return 0;
  check(all.filtered == 0);
  check(all.urls.size() + all.invalid == accepted.urls.size() + accepted.filtered + accepted.invalid);
  check(accepted.invalid == all.invalid);
  std::size_t at = 0;  // accepted.urls is all.urls with some taken out
  for (const std::string& url : accepted.urls) {
    while (at < all.urls.size() && all.urls[at] != url) ++at;
    check(at < all.urls.size());
    ++at;
  }
  return 0;
}
