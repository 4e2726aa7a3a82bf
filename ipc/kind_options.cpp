#include "ipc/kind_options.hpp"

#include <charconv>
#include <stdexcept>

namespace procpool {

KindOptions KindOptions::decode(std::string_view lines) {
  KindOptions options;
  while (!lines.empty()) {
    const auto nl = lines.find('\n');
    const std::string_view line = lines.substr(0, nl);
    lines.remove_prefix(nl == std::string_view::npos ? lines.size() : nl + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    options.set(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return options;
}

std::string KindOptions::encode() const {
  std::string out;
  for (const auto& [key, value] : values_) {
    if (key.find_first_of("=\n") != std::string::npos || value.find('\n') != std::string::npos)
      throw std::invalid_argument("option " + key + ": a key or value may not contain a newline");
    out += key + "=" + value + "\n";
  }
  return out;
}

std::string KindOptions::get(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

int64_t KindOptions::get_int(const std::string& key, int64_t fallback, int64_t min,
                             int64_t max) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  int64_t value = 0;
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw std::invalid_argument("--" + key + " must be an integer from " + std::to_string(min) +
                                " to " + std::to_string(max) + ", not '" + text + "'");
  return value;
}

}  // namespace procpool
