#include "supervisor/cli/config_flags.hpp"

#include <filesystem>

#include "supervisor/cli/kinds.hpp"

namespace procpool::cli {

std::string config_path_or_default(const std::string& given) {
  std::error_code ec;
  if (!given.empty()) return given;
  if (std::filesystem::exists(supervisor::kDefaultConfigPath, ec)) return supervisor::kDefaultConfigPath;
  return "";
}

void load_config_plugins(const std::string& path, KindRegistry& registry) {
  if (!path.empty()) load_plugins(supervisor::plugins_in_config(path), registry);
}

std::vector<supervisor::ConfigSetting> effective_config(const std::string& given, KindRegistry& registry) {
  const std::string path = config_path_or_default(given);
  if (path.empty()) return {};
  load_config_plugins(path, registry);
  return supervisor::load_config(path, schemas(registry));
}

void apply_config(CLI::App* app, const std::vector<supervisor::ConfigSetting>& settings, bool serve) {
  for (const supervisor::ConfigSetting& s : settings) {
    const bool applies = s.section == "pool" || (serve && (s.section == "serve" || s.section == "redis"));
    if (!applies) continue;
    CLI::Option* option = app->get_option_no_throw(s.section == "redis" && s.key == "address" ? "--redis" : "--" + s.key);
    if (option == nullptr || option->count() != 0) continue;  // unknown here, or given on the command line
    try {
      for (const std::string& v : s.values) option->add_result(v);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw supervisor::ConfigError(s.where + ": key '" + s.key + "' in [" + s.section + "]: " + e.what());
    }
  }
}

}  // namespace procpool::cli
