#pragma once
// The config file as the command line applies it: the file chosen, its plugins loaded,
// its [pool] (for serve and submit also [serve], [redis]) settings as the flags not given.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "child/task_api.hpp"
#include "supervisor/config/config.hpp"

namespace procpool::cli {

// The given config file, else the default one if it exists, else none ("").
std::string config_path_or_default(const std::string& given);
// Loads the plugins the config file names (its kind sections are checked against the
// kinds they configure).
void load_config_plugins(const std::string& path, KindRegistry& registry);
// The settings of the chosen file (none without one), its plugins loaded first.
std::vector<supervisor::ConfigSetting> effective_config(const std::string& given, KindRegistry& registry);
// Settings become the flags the command line did not give, through CLI11 itself (same
// conversions and range checks); errors are ConfigErrors naming file, line and column.
void apply_config(CLI::App* app, const std::vector<supervisor::ConfigSetting>& settings, bool serve);

}  // namespace procpool::cli
