#pragma once
// The kinds a command line knows: the built-in ones, the plugins it names (--plugin,
// the config's [pool] plugins), and how they are found, listed and checked.
#include <string>
#include <vector>

#include "child/task_api.hpp"
#include "ipc/kind_schema.hpp"

namespace procpool::cli {

// The registry's kinds as the front ends see them.
std::vector<KindSchema> schemas(const KindRegistry& registry);
// The kind, or a UsageError naming the kinds there are.
const KindInfo& find_kind(const KindRegistry& registry, const std::string& kind);
// The kind's options checked by the kind itself: canonical, or a UsageError.
KindOptions checked_options(const KindInfo& kind, const KindOptions& given);
// Loads each plugin library once, however often it is named (flags, config file); a
// library that cannot be loaded is a UsageError.
void load_plugins(const std::vector<std::string>& paths, KindRegistry& registry);
// Every value of `flag` (--flag V, --flag=V) before "--": a plugin's kinds must exist
// before the command line is parsed (their options are flags).
std::vector<std::string> scanned_values(int argc, char** argv, const std::string& flag);

}  // namespace procpool::cli
