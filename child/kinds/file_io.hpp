#pragma once
// Whole-file reads with a size limit, and writes that appear all at once (a temporary
// beside the destination, renamed into place), for kinds that produce files.
#include <cstdint>
#include <string>

namespace procpool::kinds {

// Reads path whole into *bytes. Returns "" on success, else a message that does not name
// the path ("no such file", "not a regular file", "12 bytes is over the limit of ...").
std::string read_file_limited(const std::string& path, uint64_t max_bytes, std::string* bytes);

// A hidden, unique temporary name beside dest that keeps dest's extension:
// "dir/.stem.<pid>.<n>.tmp.ext".
std::string temp_path_beside(const std::string& dest);

// Renames tmp over dest, removing tmp if that fails (throws std::runtime_error then).
void commit_temp(const std::string& tmp, const std::string& dest);

// Writes bytes to dest through a temporary; nothing is left behind on failure (throws).
void write_file_atomically(const std::string& dest, const std::string& bytes);

}  // namespace procpool::kinds
