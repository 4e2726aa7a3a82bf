#include "child/kinds/magick_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace procpool::kinds {

PpMagickThumbnailFn load_magick_module(std::string* error) {
  static PpMagickThumbnailFn loaded = nullptr;
  static std::string load_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    std::error_code ec;
    const auto exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    const std::vector<std::filesystem::path> candidates = {
        exe_dir / kPpMagickModule, exe_dir / ".." / "lib" / "procpool" / kPpMagickModule,
        std::filesystem::path(PROCPOOL_MODULE_DIR) / kPpMagickModule};
    for (const auto& path : candidates) {
      if (!std::filesystem::exists(path, ec)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        load_error = std::string("cannot load ") + path.string() + ": " + dlerror();
        break;
      }
      loaded = reinterpret_cast<PpMagickThumbnailFn>(dlsym(handle, kPpMagickSymbol));
      if (loaded == nullptr) load_error = path.string() + " lacks " + kPpMagickSymbol;
      break;
    }
    if (loaded == nullptr && load_error.empty())
      load_error = std::string(kPpMagickModule) + " not found beside " + exe_dir.string() + " or in " +
                   PROCPOOL_MODULE_DIR + " (needed for images other than plain JPEG)";
  }
  if (loaded == nullptr) *error = load_error;
  return loaded;
}

}  // namespace procpool::kinds
