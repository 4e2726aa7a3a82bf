#pragma once
#include <string>

#include "child/task_api.hpp"

namespace procpool {

// Loads the plugin at path (a shared library defining PROCPOOL_PLUGIN) and lets it add its
// kinds to registry. Throws std::runtime_error naming the path and the reason. A plugin
// stays loaded for the life of the process.
void load_plugin(const std::string& path, KindRegistry& registry);

}  // namespace procpool
