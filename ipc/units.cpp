#include "ipc/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>

namespace procpool {

namespace {
// A plain non-negative decimal number (digits, at most one '.'), nullopt otherwise.
std::optional<double> number(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  int dots = 0;
  for (char c : text) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  if (dots > 1 || text == ".") return std::nullopt;
  return std::stod(std::string(text));
}
}  // namespace

std::string bytes_text(uint64_t bytes) {
  if (bytes < (uint64_t{1} << 20)) return std::to_string((bytes + 1023) >> 10) + " KiB";
  if (bytes < (uint64_t{1} << 30)) return std::to_string(bytes >> 20) + " MiB";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (uint64_t{1} << 30));
  return text;
}

std::optional<uint64_t> parse_bytes(std::string_view text) {
  if (text.size() >= 2 && (text.substr(text.size() - 2) == "iB")) text.remove_suffix(2);
  else if (!text.empty() && (text.back() == 'B' || text.back() == 'b') && text.size() > 1 &&
           !std::isdigit(static_cast<unsigned char>(text[text.size() - 2])))
    text.remove_suffix(1);
  double scale = 1;
  if (!text.empty()) {
    switch (std::toupper(static_cast<unsigned char>(text.back()))) {
      case 'K': scale = 1024.0; break;
      case 'M': scale = 1024.0 * 1024; break;
      case 'G': scale = 1024.0 * 1024 * 1024; break;
      case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
      default: break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  const auto value = number(text);
  if (!value) return std::nullopt;
  const double bytes = std::floor(*value * scale);
  if (bytes < 1 || bytes > 4.6e18) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::optional<TimeoutSpec> parse_timeout(std::string_view text) {
  TimeoutSpec spec;
  if (!text.empty() && text.back() == '%') {
    const auto pct = number(text.substr(0, text.size() - 1));
    if (!pct || *pct < 1 || *pct > 100000 || std::floor(*pct) != *pct) return std::nullopt;
    spec.percent = static_cast<unsigned>(*pct);
    return spec;
  }
  if (!text.empty() && text.back() == 's') text.remove_suffix(1);
  const auto secs = number(text);
  if (!secs || *secs < 0.001 || *secs > 30.0 * 86400) return std::nullopt;
  spec.ns = static_cast<uint64_t>(*secs * 1e9);
  return spec;
}

}  // namespace procpool
