#pragma once
// The config file (TOML, toml++): every command-line setting of `procpool run` has a key,
// a default, a meaning and a validated range. A key is named as its flag without the
// dashes ("max-attempts"), in the section of what it configures: [pool] for the pool,
// [serve] for procpool serve, [redis] for its queue, and a section per task kind with
// options, named after the kind, whose keys are its schema's (ipc/kind_schema.hpp): this
// file names no kind. Flags given on the command line override the file.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/kind_schema.hpp"

namespace procpool::supervisor {

inline constexpr const char* kDefaultConfigPath = "/etc/procpool/procpool.toml";

// A mistake in a config file: "FILE:LINE:COLUMN: key 'x': what is wrong (accepted: ...)".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One setting from the file, as the flag it stands for would receive it on the command
// line (a list key gives one value per element).
struct ConfigSetting {
  std::string section;
  std::string key;                  // the flag's name without "--"
  std::vector<std::string> values;  // command-line spellings
  std::string where;                // "FILE:LINE:COLUMN", for messages
};

// Reads and checks FILE: unknown sections and keys, wrong types and values out of range
// are ConfigErrors naming the place. A missing or unreadable file is a ConfigError too.
std::vector<ConfigSetting> load_config(const std::string& path, const std::vector<KindSchema>& kinds);
// The plugin libraries FILE's [pool] names, without checking the rest (their kinds'
// sections can only be checked once they are loaded); none when it cannot be read.
std::vector<std::string> plugins_in_config(const std::string& path);
// The same for text already read; name stands for the file in messages.
std::vector<ConfigSetting> parse_config(std::string_view text, const std::string& name,
                                        const std::vector<KindSchema>& kinds);

// The effective configuration as TOML: every key, its value from the settings or its
// default (commented), with its meaning. With no settings it is the example config.
std::string describe_config(const std::vector<ConfigSetting>& settings, const std::vector<KindSchema>& kinds);

}  // namespace procpool::supervisor
