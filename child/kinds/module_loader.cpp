#include "child/kinds/module_loader.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

namespace procpool::kinds {

namespace {
struct Loaded {
  void* symbol = nullptr;
  std::string error;
};
}  // namespace

void* load_module_symbol(const char* module, const char* symbol, const char* purpose, std::string* error) {
  static std::mutex mutex;  // the C++ API may run kinds' code on more than one thread
  static std::map<std::string, Loaded> loaded;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto found = loaded.find(module);
  if (found != loaded.end()) {
    if (found->second.symbol == nullptr) *error = found->second.error;
    return found->second.symbol;
  }
  Loaded& result = loaded[module];
  std::error_code ec;
  const auto exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  const std::vector<std::filesystem::path> candidates = {exe_dir / module, exe_dir / ".." / "lib" / "procpool" / module,
                                                         std::filesystem::path(PROCPOOL_MODULE_DIR) / module,
                                                         std::filesystem::path(PROCPOOL_BUILD_MODULE_DIR) / module};
  for (const auto& path : candidates) {
    if (!std::filesystem::exists(path, ec)) continue;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      result.error = std::string("cannot load ") + path.string() + ": " + dlerror();
      break;
    }
    result.symbol = dlsym(handle, symbol);
    if (result.symbol == nullptr) result.error = path.string() + " lacks " + symbol;
    break;
  }
  if (result.symbol == nullptr && result.error.empty())
    result.error = std::string(module) + " not found beside " + exe_dir.string() + " or in " + PROCPOOL_MODULE_DIR +
                   " (" + purpose + ")";
  if (result.symbol == nullptr) *error = result.error;
  return result.symbol;
}

}  // namespace procpool::kinds
