#pragma once
// File names for downloads, from the untrusted path of a URL. The name is a single path
// component: it can never climb out of the output folder or hide among our temporaries.
#include <string>
#include <string_view>

namespace procpool::kinds {

// The last non-empty segment of a URL path (as it appears in the URL, percent-encoded,
// without query or fragment), decoded and made safe:
//   - '/', '\' (also when percent-encoded), control bytes and invalid UTF-8 become '_';
//   - leading dots and spaces are dropped (no ".", "..", or hidden files);
//   - at most kMaxNameBytes bytes, cut on a UTF-8 boundary, keeping a short extension;
//   - "download" when nothing is left.
std::string safe_file_name(std::string_view url_path);

inline constexpr std::size_t kMaxNameBytes = 200;

// "stem-N.ext" for the Nth collision of "stem.ext" (N >= 1).
std::string numbered_name(const std::string& name, unsigned n);

}  // namespace procpool::kinds
