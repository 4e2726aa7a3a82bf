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

#include "supervisor/config/config.hpp"

namespace {
using procpool::supervisor::ConfigSetting;

// A kind's section of every option type, as a kind's schema declares them.
const std::vector<procpool::KindSchema>& kinds() {
  namespace opt = procpool::opt;
  static const std::vector<procpool::KindSchema> schemas{
      {"k", "every type", {opt::boolean("b", false, "a flag"), opt::integer("i", "3", -5, 100, "an integer"),
        opt::real("f", "0.5", 0, 10, "a number"), opt::size("s", "1M", 0, int64_t{1} << 40, "a size"),
        opt::seconds("d", "30", 0.001, 86400, "seconds"), opt::text("t", "", "text"), opt::list("l", "a list"),
        opt::choice("e", "a", {"a", "b-c"}, "a choice")},
       {}}};
  return schemas;
}
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
    settings = parse_config(text, "fuzz.toml", kinds());
  } catch (const ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) std::abort();  // errors name the file
    return 0;
  }
  const std::string printed = describe_config(settings, kinds());
  std::vector<ConfigSetting> again;
  try {
    again = parse_config(printed, "printed.toml", kinds());
  } catch (const ConfigError&) {
    std::abort();  // check-config printed a file it would reject
  }
  if (meaning(again) != meaning(settings)) std::abort();
  return 0;
}
