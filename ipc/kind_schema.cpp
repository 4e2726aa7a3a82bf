#include "ipc/kind_schema.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <climits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "ipc/units.hpp"

namespace procpool {

namespace opt {

namespace {
OptionSpec spec(std::string name, OptionType type, std::string fallback, std::string help, std::string unit) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = type;
  s.fallback = std::move(fallback);
  s.help = std::move(help);
  s.unit = std::move(unit);
  return s;
}
OptionSpec whole(std::string name, OptionType type, std::string fallback, int64_t min, int64_t max, std::string help,
                 std::string unit) {
  OptionSpec s = spec(std::move(name), type, std::move(fallback), std::move(help), std::move(unit));
  s.min = min;
  s.max = max;
  return s;
}
OptionSpec fraction(std::string name, OptionType type, std::string fallback, double min, double max, std::string help,
                    std::string unit) {
  OptionSpec s = spec(std::move(name), type, std::move(fallback), std::move(help), std::move(unit));
  s.min_real = min;
  s.max_real = max;
  return s;
}
}  // namespace

OptionSpec boolean(std::string name, bool fallback, std::string help) {
  return spec(std::move(name), OptionType::Bool, fallback ? "true" : "false", std::move(help), "");
}
OptionSpec integer(std::string name, std::string fallback, int64_t min, int64_t max, std::string help) {
  return whole(std::move(name), OptionType::Int, std::move(fallback), min, max, std::move(help), "N");
}
OptionSpec size(std::string name, std::string fallback, int64_t min, int64_t max, std::string help) {
  return whole(std::move(name), OptionType::Size, std::move(fallback), min, max, std::move(help), "SIZE");
}
OptionSpec real(std::string name, std::string fallback, double min, double max, std::string help) {
  return fraction(std::move(name), OptionType::Float, std::move(fallback), min, max, std::move(help), "NUMBER");
}
OptionSpec seconds(std::string name, std::string fallback, double min, double max, std::string help) {
  return fraction(std::move(name), OptionType::Duration, std::move(fallback), min, max, std::move(help), "SECONDS");
}
OptionSpec text(std::string name, std::string fallback, std::string help, std::string unit) {
  return spec(std::move(name), OptionType::String, std::move(fallback), std::move(help), std::move(unit));
}
OptionSpec list(std::string name, std::string help, std::string unit) {
  return spec(std::move(name), OptionType::List, "[]", std::move(help), std::move(unit));
}
OptionSpec choice(std::string name, std::string fallback, std::vector<std::string> choices, std::string help) {
  std::string unit;
  for (const std::string& c : choices) unit += (unit.empty() ? "" : "|") + c;
  OptionSpec s = spec(std::move(name), OptionType::Enum, std::move(fallback), std::move(help), std::move(unit));
  s.choices = std::move(choices);
  return s;
}

}  // namespace opt

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

std::optional<int64_t> whole_number(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> real_number(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string range_text(const OptionSpec& s) {
  if (s.max == 0) return " of at least " + std::to_string(s.min);
  return " from " + std::to_string(s.min) + " to " + std::to_string(s.max);
}

std::string real_range_text(const OptionSpec& s) {
  if (s.max_real == 0) return " of at least " + number_text(s.min_real);
  return " from " + number_text(s.min_real) + " to " + number_text(s.max_real);
}

bool in_range(const OptionSpec& s, int64_t v) { return v >= s.min && (s.max == 0 || v <= s.max); }
bool in_real_range(const OptionSpec& s, double v) { return v >= s.min_real && (s.max_real == 0 || v <= s.max_real); }

// The canonical form, or nullopt when the value does not fit.
std::optional<std::string> canonical_or_none(const OptionSpec& s, std::string_view value) {
  switch (s.type) {
    case OptionType::Bool:
      if (value == "true" || value == "false") return std::string(value);
      return std::nullopt;
    case OptionType::Int: {
      const auto v = whole_number(value);
      if (!v || !in_range(s, *v)) return std::nullopt;
      return std::to_string(*v);
    }
    case OptionType::Size: {
      // parse_bytes refuses 0; a size option whose range starts at 0 may be 0.
      const auto v = value == "0" ? std::optional<uint64_t>(0) : parse_bytes(value);
      if (!v || *v > static_cast<uint64_t>(INT64_MAX) || !in_range(s, static_cast<int64_t>(*v))) return std::nullopt;
      return std::to_string(*v);
    }
    case OptionType::Float: {
      const auto v = real_number(value);
      if (!v || !in_real_range(s, *v)) return std::nullopt;
      return number_text(*v);
    }
    case OptionType::Duration: {
      std::string_view text = value;
      if (!text.empty() && text.back() == 's') text.remove_suffix(1);
      const auto v = real_number(text);
      if (!v || !in_real_range(s, *v)) return std::nullopt;
      return number_text(*v);
    }
    case OptionType::String:
      if (value.find('\n') != std::string_view::npos) return std::nullopt;
      return std::string(value);
    case OptionType::Enum:
      for (const std::string& c : s.choices)
        if (value == c) return c;
      return std::nullopt;
    case OptionType::List: {
      const auto j = nlohmann::json::parse(value, nullptr, false);
      if (!j.is_array()) return std::nullopt;
      for (const auto& item : j)
        if (!item.is_string()) return std::nullopt;
      return j.dump();  // one line, whatever the items hold
    }
  }
  return std::nullopt;
}

}  // namespace

std::string accepted_values(const OptionSpec& s) {
  switch (s.type) {
    case OptionType::Bool: return "must be true or false";
    case OptionType::Int: return "must be an integer" + range_text(s);
    case OptionType::Size: return "must be a size (bytes, or like 512K, 50M, 2G)" + range_text(s) + " bytes";
    case OptionType::Float: return "must be a number" + real_range_text(s);
    case OptionType::Duration: return "must be seconds: a number" + real_range_text(s);
    case OptionType::String: return "must be one line of text";
    case OptionType::List: return "must be a list of strings";
    case OptionType::Enum: {
      std::string out = "must be one of ";
      for (std::size_t i = 0; i < s.choices.size(); ++i) out += (i ? ", " : "") + s.choices[i];
      return out;
    }
  }
  return "";
}

std::string canonical(const std::string& kind, const OptionSpec& spec, std::string_view value) {
  if (auto out = canonical_or_none(spec, value)) return *out;
  const std::string shown(value.substr(0, 80));
  throw OptionError(kind + " option '" + spec.name + "' " + accepted_values(spec) + ", not '" + shown + "'");
}

std::string expand_environment(const std::string& kind, const OptionSpec& spec, const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string::npos)
      throw OptionError(kind + " option '" + spec.name + "': unclosed ${ in '" + text + "'");
    const std::string name = text.substr(i + 2, close - i - 2);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      throw OptionError(kind + " option '" + spec.name + "' uses ${" + name + "}, which is not set");
    out += value;
    i = close;
  }
  return out;
}

const OptionSpec* KindSchema::find(std::string_view option) const {
  for (const OptionSpec& s : options)
    if (s.name == option) return &s;
  return nullptr;
}

std::string KindSchema::option_names() const {
  std::string out;
  for (const OptionSpec& s : options) out += (out.empty() ? "" : ", ") + s.name;
  return out.empty() ? "none" : out;
}

KindOptions KindSchema::checked(const KindOptions& given) const {
  KindOptions out;
  for (const auto& [key, value] : given.values()) {
    const OptionSpec* spec = find(key);
    if (spec == nullptr)
      throw OptionError(name + " has no option '" + key + "' (its options: " + option_names() + ")");
    out.set(key, canonical(name, *spec, value));
  }
  for (const OptionSpec& s : options)
    if (!out.has(s.name) && !s.fallback.empty()) out.set(s.name, canonical(name, s, s.fallback));
  return out;
}

std::optional<KindOptions> options_from_json(std::string_view object_text, std::string* error) {
  using nlohmann::json;
  const json options = json::parse(object_text, nullptr, false);
  if (!options.is_object()) {
    *error = "\"options\" must be an object: {\"option\": value, ...}";
    return std::nullopt;
  }
  KindOptions out;
  for (const auto& [key, value] : options.items()) {
    if (key.empty() || key.size() > 64 || key.find_first_of("=\n") != std::string::npos) {
      *error = "an option's name is 1 to 64 characters without '=' or a newline";
      return std::nullopt;
    }
    const bool strings = value.is_array() && std::all_of(value.begin(), value.end(), [](const json& v) {
      return v.is_string();
    });
    if (value.is_string()) out.set(key, value.get<std::string>());
    else if (value.is_boolean()) out.set(key, value.get<bool>() ? "true" : "false");
    else if (value.is_number() || strings) out.set(key, value.dump());
    else {
      *error = "option '" + key + "' must be a string, a number, true or false, or an array of strings";
      return std::nullopt;
    }
  }
  return out;
}

std::string options_to_json(const KindOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : options.values()) {
    // A list's canonical form is a JSON array of strings: sent as the array it is.
    const auto list = nlohmann::json::parse(value, nullptr, false);
    const bool strings = list.is_array() && std::all_of(list.begin(), list.end(), [](const nlohmann::json& v) {
      return v.is_string();
    });
    if (strings) out[key] = list;
    else out[key] = value;
  }
  return out.dump();
}

namespace {
KindOptions with_scopes(const KindSchema& schema, const KindOptions& options, bool batch) {
  KindOptions out;
  for (const auto& [key, value] : options.values()) {
    const OptionSpec* spec = schema.find(key);
    if (spec == nullptr || spec->scope == OptionScope::Task || (batch && spec->scope == OptionScope::Batch))
      out.set(key, value);
  }
  return out;
}
}  // namespace

KindOptions KindSchema::task_options(const KindOptions& options) const { return with_scopes(*this, options, false); }
KindOptions KindSchema::run_task_options(const KindOptions& options) const { return with_scopes(*this, options, true); }

}  // namespace procpool
