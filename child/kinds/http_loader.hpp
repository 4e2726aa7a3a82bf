#pragma once
// procpool_http.so, loaded on first use (see http_module.hpp).
#include "child/kinds/http_module.hpp"

namespace procpool::kinds {

// The module's functions; throws std::runtime_error saying why it cannot be loaded.
const PpHttpApi& http_api();

}  // namespace procpool::kinds
