#pragma once
// A shield for toml++ 3.2 (Debian 12), which reaches __builtin_unreachable() -- undefined
// behaviour -- when it asks whether some non-ASCII characters are whitespace (found by
// fuzz_config; upstream marzer/tomlplusplus#190 and #295, fixed after 3.2). It may ask
// anywhere, error paths included, so toml++ is never shown a non-ASCII byte: in "basic"
// strings each non-ASCII character becomes its \uXXXX escape (the same value), in
// comments it becomes '?', and anywhere else (outside strings, in 'literal' strings,
// after a backslash) it is refused, as is invalid UTF-8.
#include <cstddef>
#include <string>
#include <string_view>

namespace procpool::supervisor {

// The ASCII-only equivalent of text, or "" with *bad_offset and *why set.
std::string ascii_for_tomlpp(std::string_view text, std::size_t* bad_offset, std::string* why);

// v as a TOML basic string ("..."), escaped as TOML requires; non-ASCII kept as UTF-8.
std::string toml_basic_string(std::string_view v);

}  // namespace procpool::supervisor
