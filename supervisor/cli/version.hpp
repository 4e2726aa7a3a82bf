#pragma once
// procpool's version, as -V, the man pages and the package say it: the project's, from
// CMake (PROCPOOL_VERSION).
namespace procpool::cli {
inline constexpr const char* kVersion = PROCPOOL_VERSION;
}  // namespace procpool::cli
