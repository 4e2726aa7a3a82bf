#include "child/kinds/url_names.hpp"

#include <cstdint>

#include "child/kinds/utf8.hpp"

namespace procpool::kinds {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

// Cuts s to at most max bytes without splitting a UTF-8 sequence (s is valid UTF-8).
std::string utf8_prefix(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<uint8_t>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace

std::string safe_file_name(std::string_view url_path) {
  const auto cut = url_path.find_first_of("?#");
  if (cut != std::string_view::npos) url_path = url_path.substr(0, cut);
  while (!url_path.empty() && url_path.back() == '/') url_path.remove_suffix(1);
  const auto slash = url_path.rfind('/');
  if (slash != std::string_view::npos) url_path = url_path.substr(slash + 1);
  const std::string decoded = percent_decode(url_path);

  std::string name;
  for (std::size_t i = 0; i < decoded.size();) {
    const auto c = static_cast<uint8_t>(decoded[i]);
    const std::size_t n = utf8_length(decoded, i);
    if (n == 0 || c < 0x20 || c == 0x7F || c == '/' || c == '\\') {
      name += '_';
      i += n == 0 ? 1 : n;
      continue;
    }
    name.append(decoded, i, n);
    i += n;
  }
  const auto first = name.find_first_not_of(". ");
  name = first == std::string::npos ? "" : name.substr(first);
  if (name.empty()) return "download";
  if (name.size() > kMaxNameBytes) {
    const auto dot = name.rfind('.');
    const std::size_t ext_len = dot == std::string::npos ? 0 : name.size() - dot;
    if (ext_len > 0 && ext_len <= 16) {
      name = utf8_prefix(name.substr(0, dot), kMaxNameBytes - ext_len) + name.substr(dot);
    } else {
      name = utf8_prefix(name, kMaxNameBytes);
    }
  }
  return name;
}

std::string numbered_name(const std::string& name, unsigned n) {
  const auto dot = name.rfind('.');
  // Appended, not "-" + to_string(n): GCC 12 at -O3 sees a false -Wrestrict overlap there.
  std::string suffix(1, '-');
  suffix += std::to_string(n);
  if (dot == std::string::npos || dot == 0) return name + suffix;
  return name.substr(0, dot) + suffix + name.substr(dot);
}

}  // namespace procpool::kinds
