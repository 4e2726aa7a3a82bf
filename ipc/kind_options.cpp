#include "ipc/kind_options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
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
    throw std::invalid_argument("option '" + key + "' must be an integer from " + std::to_string(min) +
                                " to " + std::to_string(max) + ", not '" + text + "'");
  return value;
}

namespace {
const std::string& canonical_value(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto it = values.find(key);
  if (it == values.end()) throw std::logic_error("kind option '" + key + "' read but neither given nor defaulted");
  return it->second;
}
[[noreturn]] void not_canonical(const std::string& key, const std::string& value) {
  throw std::logic_error("kind option '" + key + "' is not canonical: '" + value + "'");
}
}  // namespace

bool KindOptions::flag(const std::string& key) const {
  const std::string& v = canonical_value(values_, key);
  if (v != "true" && v != "false") not_canonical(key, v);
  return v == "true";
}

int64_t KindOptions::integer(const std::string& key) const {
  const std::string& v = canonical_value(values_, key);
  int64_t out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) not_canonical(key, v);
  return out;
}

double KindOptions::real(const std::string& key) const {
  const std::string& v = canonical_value(values_, key);
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size()) not_canonical(key, v);
  return out;
}

int64_t KindOptions::milliseconds(const std::string& key) const {
  return static_cast<int64_t>(std::llround(real(key) * 1000.0));
}

std::vector<std::string> KindOptions::list(const std::string& key) const {
  const std::string& v = canonical_value(values_, key);
  const auto j = nlohmann::json::parse(v, nullptr, false);
  if (!j.is_array()) not_canonical(key, v);
  std::vector<std::string> out;
  for (const auto& item : j) {
    if (!item.is_string()) not_canonical(key, v);
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace procpool
