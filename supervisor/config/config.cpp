#include "supervisor/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <toml++/toml.h>

#include "ipc/kind_schema.hpp"
#include "supervisor/config/toml_guard.hpp"
#include "ipc/units.hpp"

namespace procpool::supervisor {

namespace {

enum class Type { Int, Bool, String, Size, Seconds, Timeout, StringList };

struct Key {
  const char* section;
  const char* key;
  Type type;
  int64_t min, max;  // Int only
  const char* fallback;  // the default, as written in the example config
  const char* help;
};

constexpr int64_t kHuge = int64_t{1} << 62;

// The schema of the sections that are not kinds'. Ranges match the command line's.
// Each kind's section comes from its own schema (ipc/kind_schema.hpp).
const Key kKeys[] = {
    {"pool", "workers", Type::Int, 1, 1024, "", "worker processes (default: usable cores: affinity and cgroup cpu.max)"},
    {"pool", "max-attempts", Type::Int, 1, 100, "3", "runs of a task that may crash its worker before it is reported crashed"},
    {"pool", "retries", Type::Int, 0, 1000, "0", "run a task that ended in error (exec: a non-zero exit or a signal) again, up to N times"},
    {"pool", "retry-delay", Type::Seconds, 0, 0, "0.1", "seconds before the first rerun of --retries, doubling for each (at most 10)"},
    {"pool", "timeout", Type::Timeout, 0, 0, "", "kill a task's worker after SECONDS, or N% of the kind's median run time, e.g. \"300%\" (default: none)"},
    {"pool", "retry-timeouts", Type::Bool, 0, 0, "false", "retry a timed-out task, up to max-attempts"},
    {"pool", "max-tasks-per-child", Type::Int, 1, kHuge, "", "replace a worker after N tasks (default: never)"},
    {"pool", "max-memory-per-child", Type::Size, 0, 0, "", "replace a worker whose RSS is over SIZE, e.g. \"512M\" (default: none)"},
    {"pool", "hard-memory-per-child", Type::Size, 0, 0, "", "kill a worker over SIZE at once (default: 2 x max-memory-per-child, else half the RAM)"},
    {"pool", "max-restarts", Type::Int, 1, 1000000, "", "stop when workers died more than N times within restart-period (default: max(20, 2 x workers))"},
    {"pool", "restart-period", Type::Int, 1, 86400, "10", "seconds, for max-restarts"},
    {"pool", "containment", Type::String, 0, 0, "\"auto\"", "what holds each worker and all it starts: \"auto\" (the first of these that works here), \"cgroup2\", \"cgroup1\" or \"process-group\""},
    {"pool", "max-procs-per-child", Type::Int, 16, 4194304, "1024", "processes and threads a worker and all it starts may have at once (the cgroup's pids.max)"},
    {"pool", "plugin", Type::StringList, 0, 0, "[]", "shared libraries with more task kinds"},
    {"serve", "socket", Type::String, 0, 0, "\"/run/procpool/procpool.sock\"", "procpool serve: the Unix socket clients connect to (mode 0660)"},
    {"serve", "results", Type::String, 0, 0, "", "procpool serve: append every result as a JSON line to this file (default: none)"},
    {"serve", "log-format", Type::String, 0, 0, "\"plain\"", "procpool serve: log lines on stderr as \"plain\" text or \"json\""},
    {"serve", "log-level", Type::String, 0, 0, "\"info\"", "procpool serve: least severe messages logged: trace, debug, info, warning, error or off"},
    {"serve", "max-workers", Type::Int, 0, 1024, "0", "procpool serve: the most workers a reload (SIGHUP) may raise workers to; 0: 4 x workers, at least 8"},
    {"serve", "metrics-port", Type::Int, 0, 65535, "0", "procpool serve: Prometheus metrics on http://127.0.0.1:PORT/metrics; 0: off"},
    {"redis", "address", Type::String, 0, 0, "", "procpool serve and submit: a Redis Streams queue at HOST:PORT (docs/SCALE_OUT.md; default: none)"},
    {"redis", "queue", Type::String, 0, 0, "\"default\"", "the queue's name (its keys are pp:{QUEUE}:...)"},
    {"redis", "instance", Type::String, 0, 0, "\"0\"", "procpool serve: this host's consumer is HOSTNAME:INSTANCE (stable across restarts)"},
    {"redis", "lease", Type::Seconds, 0, 0, "30", "procpool serve: a host silent this long loses its jobs to the others"},
    {"redis", "chunk", Type::Int, 1, 100000, "100", "procpool submit: inputs per queue entry"},
};

const char* type_name(Type t) {
  switch (t) {
    case Type::Int: return "an integer";
    case Type::Bool: return "true or false";
    case Type::String: return "a string";
    case Type::Size: return "a size: bytes, or a string like \"512M\" or \"2G\"";
    case Type::Seconds: return "seconds: a number from 0.001 to 2592000";
    case Type::Timeout: return "seconds (0.001 to 2592000), or a string like \"300%\"";
    case Type::StringList: return "an array of strings";
  }
  return "";
}

std::string place(const std::string& path, const toml::source_region& src) {
  return path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

std::string keys_of(const std::string& section) {
  std::string out;
  for (const Key& k : kKeys)
    if (section == k.section) out += std::string(out.empty() ? "" : ", ") + k.key;
  return out;
}

std::string format_seconds(double s);

bool fixed_section(const std::string& section) {
  return std::any_of(std::begin(kKeys), std::end(kKeys), [&](const Key& k) { return section == k.section; });
}

const KindSchema* kind_section(const std::vector<KindSchema>& kinds, const std::string& section) {
  for (const KindSchema& k : kinds)
    if (k.name == section && !k.options.empty()) return &k;
  return nullptr;
}

std::string section_names(const std::vector<KindSchema>& kinds) {
  std::string out = "[pool], [serve], [redis]";
  for (const KindSchema& k : kinds)
    if (!k.options.empty()) out += ", [" + k.name + "]";
  return out;
}

// A key written before any [section] header (`workers = 2` at the top): where it belongs,
// "[pool]" or "[thumbnail] or [download]", or "" when no section has such a key.
std::string sections_with_key(const std::vector<KindSchema>& kinds, const std::string& key) {
  std::vector<std::string> found;
  for (const Key& k : kKeys)
    if (key == k.key) found.push_back("[" + std::string(k.section) + "]");
  for (const KindSchema& kind : kinds)
    if (kind.find(key) != nullptr) found.push_back("[" + kind.name + "]");
  std::string out;
  for (std::size_t i = 0; i < found.size(); ++i)
    out += (i == 0 ? "" : i + 1 == found.size() ? " or " : ", ") + found[i];
  return out;
}

// A kind option's TOML value as the values its flag would be given, checked; *error says
// what is wrong otherwise.
std::vector<std::string> convert_kind_option(const KindSchema& kind, const OptionSpec& spec, const toml::node& node,
                                             std::string* error) {
  const auto fail = [&](const std::string& why) {
    *error = why;
    return std::vector<std::string>{};
  };
  if (spec.type == OptionType::List) {
    const toml::array* array = node.as_array();
    std::vector<std::string> out;
    if (array == nullptr) return fail(accepted_values(spec) + " (a TOML array)");
    for (const toml::node& item : *array) {
      if (!item.is_string()) return fail(accepted_values(spec) + " (a TOML array)");
      out.push_back(*item.value<std::string>());
    }
    return out;
  }
  std::string text;
  bool right_type = false;
  switch (spec.type) {
    case OptionType::Bool:
      right_type = node.is_boolean();
      if (right_type) text = *node.value<bool>() ? "true" : "false";
      break;
    case OptionType::Int:
      right_type = node.is_integer();
      if (right_type) text = std::to_string(*node.value<int64_t>());
      break;
    case OptionType::Size:
    case OptionType::Float:
    case OptionType::Duration:
      right_type = node.is_integer() || node.is_floating_point() || node.is_string();
      if (node.is_integer()) text = std::to_string(*node.value<int64_t>());
      if (node.is_floating_point()) text = format_seconds(*node.value<double>());
      if (node.is_string()) text = *node.value<std::string>();
      break;
    default:
      right_type = node.is_string();
      if (right_type) text = *node.value<std::string>();
      break;
  }
  if (!right_type) return fail(accepted_values(spec));
  try {
    (void)canonical(kind.name, spec, text);
    return {text};  // as written, for check-config to print back
  } catch (const OptionError&) {
    return fail(accepted_values(spec) + ", not " + text);
  }
}

// The shortest decimal that reads back as the same double, never in exponent form: a
// TOML reader takes it as a number again, and no digit of what was written is lost
// (a stream's default 6 digits turned 1.2345678 into 1.23457, and 1e6 into "1e+06",
// which check-config then printed as a string the loader refuses).
std::string format_seconds(double s) {
  char text[400];
  const auto [end, ec] = std::to_chars(std::begin(text), std::end(text), s, std::chars_format::fixed);
  if (ec != std::errc()) return std::to_string(s);
  return std::string(text, end);
}

// The value as the flag would take it, or "" with *error set.
std::vector<std::string> convert(const Key& k, const toml::node& node, std::string* error) {
  auto fail = [&](const std::string& why) {
    *error = why;
    return std::vector<std::string>{};
  };
  switch (k.type) {
    case Type::Int: {
      const auto v = node.value<int64_t>();
      if (!node.is_integer() || !v) return fail("must be " + std::string(type_name(k.type)));
      if (*v < k.min || *v > k.max)
        return fail("must be from " + std::to_string(k.min) + " to " + std::to_string(k.max) + ", not " + std::to_string(*v));
      return {std::to_string(*v)};
    }
    case Type::Bool:
      if (!node.is_boolean()) return fail("must be " + std::string(type_name(k.type)));
      return {*node.value<bool>() ? "true" : "false"};
    case Type::String:
      if (!node.is_string()) return fail("must be " + std::string(type_name(k.type)));
      return {*node.value<std::string>()};
    case Type::Size: {
      if (node.is_integer() && *node.value<int64_t>() > 0) return {std::to_string(*node.value<int64_t>())};
      if (node.is_string() && parse_bytes(*node.value<std::string>())) return {*node.value<std::string>()};
      return fail("must be " + std::string(type_name(k.type)));
    }
    case Type::Seconds:
    case Type::Timeout: {
      if (node.is_integer() || node.is_floating_point()) {
        const double s = *node.value<double>();
        if (!(s >= 0.001 && s <= 2592000)) return fail("must be " + std::string(type_name(k.type)));
        return {format_seconds(s)};
      }
      if (k.type == Type::Timeout && node.is_string()) {
        const std::string text = *node.value<std::string>();
        const auto spec = parse_timeout(text);
        if (spec && spec->percent != 0) return {text};
      }
      return fail("must be " + std::string(type_name(k.type)));
    }
    case Type::StringList: {
      const toml::array* array = node.as_array();
      if (array == nullptr) return fail("must be " + std::string(type_name(k.type)));
      std::vector<std::string> out;
      for (const toml::node& item : *array) {
        if (!item.is_string()) return fail("must be " + std::string(type_name(k.type)));
        out.push_back(*item.value<std::string>());
      }
      return out;
    }
  }
  return fail("unknown type");
}

}  // namespace

namespace {

void check_kind_section(const KindSchema& kind, const toml::table& table, const std::string& path,
                        std::vector<ConfigSetting>& settings) {
  for (const auto& [key_key, node] : table) {
    const std::string key(key_key.str());
    const std::string where = place(path, node.source());
    const OptionSpec* spec = kind.find(key);
    if (spec == nullptr)
      throw ConfigError(where + ": unknown key '" + key + "' in [" + kind.name + "] (keys: " + kind.option_names() + ")");
    std::string error;
    auto values = convert_kind_option(kind, *spec, node, &error);
    if (!error.empty()) throw ConfigError(where + ": key '" + key + "' in [" + kind.name + "] " + error);
    settings.push_back({kind.name, key, std::move(values), where});
  }
}

std::vector<ConfigSetting> check_config(const toml::table& doc, const std::string& path,
                                        const std::vector<KindSchema>& kinds) {
  std::vector<ConfigSetting> settings;
  for (const auto& [section_key, section_node] : doc) {
    const std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    const KindSchema* kind = kind_section(kinds, section);
    if (table == nullptr) {
      const std::string home = sections_with_key(kinds, section);
      throw ConfigError(place(path, section_node.source()) + ": key '" + section + "' is outside any section: " +
                        (home.empty() ? "keys go under a [section] header (sections: " + section_names(kinds) + ")"
                                      : "it belongs in " + home));
    }
    if (kind == nullptr && !fixed_section(section))
      throw ConfigError(place(path, section_node.source()) + ": unknown section '" + section +
                        "' (sections: " + section_names(kinds) + ")");
    if (kind != nullptr) {
      check_kind_section(*kind, *table, path, settings);
      continue;
    }
    for (const auto& [key_key, node] : *table) {
      const std::string key(key_key.str());
      const Key* spec = nullptr;
      for (const Key& k : kKeys)
        if (section == k.section && key == k.key) spec = &k;
      const std::string where = place(path, node.source());
      if (spec == nullptr)
        throw ConfigError(where + ": unknown key '" + key + "' in [" + section + "] (keys: " + keys_of(section) + ")");
      std::string error;
      auto values = convert(*spec, node, &error);
      if (!error.empty()) throw ConfigError(where + ": key '" + key + "' in [" + section + "] " + error);
      settings.push_back({section, key, std::move(values), where});
    }
  }
  return settings;
}

ConfigError parse_failure(const toml::parse_error& e, const std::string& path) {
  // A file that cannot be opened is reported with line 0: say so plainly.
  if (e.source().begin.line == 0) return ConfigError(path + ": " + std::string(e.description()));
  return ConfigError(place(path, e.source()) + ": " + std::string(e.description()));
}

}  // namespace

namespace {
std::string read_limited(const std::string& path) {
  constexpr std::size_t kMaxBytes = 1 << 20;  // a config file, not a data file
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::string text(kMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxBytes) throw ConfigError(path + ": over " + std::to_string(kMaxBytes) + " bytes");
  return text;
}
}  // namespace

std::vector<ConfigSetting> load_config(const std::string& path, const std::vector<KindSchema>& kinds) {
  return parse_config(read_limited(path), path, kinds);
}

std::vector<std::string> plugins_in_config(const std::string& path) {
  std::vector<std::string> out;
  try {
    std::size_t bad = 0;
    std::string why;
    const std::string ascii = ascii_for_tomlpp(read_limited(path), &bad, &why);  // toml++ never sees other bytes
    if (!why.empty()) return out;
    const toml::table doc = toml::parse(ascii, std::string_view(path));
    if (const toml::array* list = doc["pool"]["plugin"].as_array())
      for (const toml::node& item : *list)
        if (item.is_string()) out.push_back(*item.value<std::string>());
  } catch (const std::exception&) {
    // load_config reads the file again and says what is wrong with it, where.
  }
  return out;
}

std::vector<ConfigSetting> parse_config(std::string_view text, const std::string& name,
                                        const std::vector<KindSchema>& kinds) {
  std::size_t bad = 0;
  std::string why;
  const std::string ascii = ascii_for_tomlpp(text, &bad, &why);
  if (!why.empty()) {
    const std::string_view before = text.substr(0, bad);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const std::size_t line_start = before.rfind('\n');
    const std::size_t column = line_start == std::string_view::npos ? bad + 1 : bad - line_start;
    throw ConfigError(name + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + why);
  }
  try {
    return check_config(toml::parse(ascii, std::string_view(name)), name, kinds);
  } catch (const toml::parse_error& e) {
    throw parse_failure(e, name);
  }
}

namespace {

// One key as the description shows it, from the fixed table or a kind's schema.
struct Described {
  std::string section, key, help, fallback;  // fallback: a TOML literal, empty if unset
  Type type;
};

Type described_type(OptionType t) {
  switch (t) {
    case OptionType::Bool: return Type::Bool;
    case OptionType::Int: return Type::Int;
    case OptionType::Float:
    case OptionType::Duration: return Type::Seconds;
    case OptionType::Size: return Type::Size;
    case OptionType::List: return Type::StringList;
    case OptionType::String:
    case OptionType::Enum: return Type::String;
  }
  return Type::String;
}

// True when v, written bare, is a number TOML reads back as the same text's value: digits,
// at most one point with digits on both sides (when a fraction is allowed), and no
// leading zero (TOML refuses "09", which a size or a number given as a string may be).
bool toml_plain_number(const std::string& v, bool fraction) {
  const std::size_t point = v.find('.');
  const std::string whole = v.substr(0, point);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string::npos) return false;
  if (whole.size() > 1 && whole.front() == '0') return false;
  if (point == std::string::npos) return true;
  const std::string part = v.substr(point + 1);
  return fraction && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
}

// Values as TOML: strings quoted (toml++ escapes them), numbers and booleans bare.
std::string toml_literal(Type type, const std::string& v) {
  // A number of seconds is bare only as format_seconds writes it: "1.50", which a kind's
  // option may have been given as a string, would read back as 1.5.
  const bool seconds = type == Type::Seconds && toml_plain_number(v, true) &&
                       format_seconds(std::strtod(v.c_str(), nullptr)) == v;
  const bool bare = type == Type::Int || type == Type::Bool || seconds ||
                    (type == Type::Timeout && v.find('%') == std::string::npos) ||
                    (type == Type::Size && toml_plain_number(v, false));
  return bare ? v : toml_basic_string(v);
}

std::vector<Described> every_key(const std::vector<KindSchema>& kinds) {
  std::vector<Described> out;
  for (const Key& k : kKeys) out.push_back({k.section, k.key, k.help, k.fallback, k.type});
  for (const KindSchema& kind : kinds) {
    for (const OptionSpec& o : kind.options) {
      const Type type = described_type(o.type);
      std::string fallback;
      if (o.type == OptionType::List) fallback = "[]";
      else if (!o.fallback.empty()) fallback = toml_literal(type, o.fallback);
      std::string help = o.help;
      if (o.type == OptionType::Enum) help += " (" + o.unit + ")";
      if (o.scope == OptionScope::Run || o.scope == OptionScope::Batch) help += " [procpool run only]";
      out.push_back({kind.name, o.name, help, fallback, type});
    }
  }
  return out;
}

}  // namespace

std::string describe_config(const std::vector<ConfigSetting>& settings, const std::vector<KindSchema>& kinds) {
  std::string out =
      "# procpool configuration. Every key is a `procpool run` flag without its dashes; a flag\n"
      "# given on the command line overrides the file. Commented keys show their defaults.\n"
      "# A kind's section gives its options to `run` and `serve` alike.\n";
  std::string section;
  for (const Described& k : every_key(kinds)) {
    if (section != k.section) {
      section = k.section;
      out += "\n[" + section + "]\n";
      for (const KindSchema& kind : kinds)
        if (kind.name == section) out += "# " + kind.name + ": " + kind.summary + "\n";
    }
    out += "# " + k.help + "\n";
    const ConfigSetting* set = nullptr;
    for (const ConfigSetting& s : settings)
      if (s.section == k.section && s.key == k.key) set = &s;
    if (set == nullptr) {
      out += !k.fallback.empty() ? "# " + k.key + " = " + k.fallback + "\n" : "# " + k.key + " is unset by default\n";
      continue;
    }
    std::string value;
    if (k.type == Type::StringList) {
      value = "[";
      for (std::size_t i = 0; i < set->values.size(); ++i) value += (i ? ", " : "") + toml_literal(k.type, set->values[i]);
      value += "]";
    } else {
      value = toml_literal(k.type, set->values.front());
    }
    out += k.key + " = " + value + "\n";
  }
  return out;
}

}  // namespace procpool::supervisor
