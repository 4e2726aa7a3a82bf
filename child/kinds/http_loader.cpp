#include "child/kinds/http_loader.hpp"

#include <stdexcept>

#include "child/kinds/module_loader.hpp"

namespace procpool::kinds {

const PpHttpApi& http_api() {
  std::string error;
  const auto entry = reinterpret_cast<PpHttpApiFn>(
      load_module_symbol(kPpHttpModule, kPpHttpSymbol, "needed for download and for URLs", &error));
  if (entry == nullptr) throw std::runtime_error(error);
  return *entry();
}

}  // namespace procpool::kinds
