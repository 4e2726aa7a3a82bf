#pragma once
// Finds and loads one of procpool's modules (procpool_magick.so, procpool_http.so) once
// per process, on first use: beside the executable, in the install's lib/procpool, and in
// the build tree (for programs built with the project, such as the examples).
#include <string>

namespace procpool::kinds {

// The module's entry point `symbol`, or nullptr with *error saying what was tried and why
// it failed; `purpose` ends that message ("needed for ...").
void* load_module_symbol(const char* module, const char* symbol, const char* purpose, std::string* error);

}  // namespace procpool::kinds
