#include "child/plugin_loader.hpp"

#include <dlfcn.h>

#include <stdexcept>

namespace procpool {

void load_plugin(const std::string& path, KindRegistry& registry) {
  // A path without a slash would make dlopen search the library path: never what is meant.
  const std::string resolved = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = dlopen(resolved.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw std::runtime_error("cannot load plugin " + path + ": " + dlerror());
  using RegisterFn = void (*)(KindRegistry&);
  auto fn = reinterpret_cast<RegisterFn>(dlsym(handle, kPluginEntryPoint));
  if (fn == nullptr)
    throw std::runtime_error("plugin " + path + " has no " + kPluginEntryPoint + " (define it with PROCPOOL_PLUGIN)");
  try {
    fn(registry);
  } catch (const std::exception& e) {
    throw std::runtime_error("plugin " + path + " failed to register its kinds: " + e.what());
  }
}

}  // namespace procpool
