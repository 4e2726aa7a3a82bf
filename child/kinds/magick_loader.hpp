#pragma once
// Finds and loads procpool_magick.so once per process, on first use.
#include <string>

#include "child/kinds/magick_module.hpp"

namespace procpool::kinds {

// The module's entry point, or nullptr with *error saying what was tried and why it failed.
// Looked for beside the executable, then in the install's lib/procpool folder.
PpMagickThumbnailFn load_magick_module(std::string* error);

}  // namespace procpool::kinds
