#include "child/kinds/magick_loader.hpp"

#include "child/kinds/module_loader.hpp"

namespace procpool::kinds {

PpMagickThumbnailFn load_magick_module(std::string* error) {
  return reinterpret_cast<PpMagickThumbnailFn>(
      load_module_symbol(kPpMagickModule, kPpMagickSymbol, "needed for images other than plain JPEG", error));
}

}  // namespace procpool::kinds
