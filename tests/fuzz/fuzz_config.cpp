// The config loader on any bytes: a file is either settings or a ConfigError naming the
// file; and what check-config prints for the settings is itself a config file that reads
// back as the same settings (the printer quotes and escapes whatever the reader accepted).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "supervisor/config.hpp"

namespace {
using procpool::supervisor::ConfigSetting;
std::set<std::tuple<std::string, std::string, std::vector<std::string>>> meaning(const std::vector<ConfigSetting>& s) {
  std::set<std::tuple<std::string, std::string, std::vector<std::string>>> out;
  for (const ConfigSetting& c : s) out.emplace(c.section, c.key, c.values);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace procpool::supervisor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<ConfigSetting> settings;
  try {
    settings = parse_config(text, "fuzz.toml");
  } catch (const ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) std::abort();  // errors name the file
    return 0;
  }
  const std::string printed = describe_config(settings);
  std::vector<ConfigSetting> again;
  try {
    again = parse_config(printed, "printed.toml");
  } catch (const ConfigError&) {
    std::abort();  // check-config printed a file it would reject
  }
  if (meaning(again) != meaning(settings)) std::abort();
  return 0;
}
