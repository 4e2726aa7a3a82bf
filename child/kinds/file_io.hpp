#pragma once
// Whole-file reads with a size limit, and writes that appear all at once (a temporary
// beside the destination, renamed into place), for kinds that produce files.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace procpool::kinds {

// Reads path whole into *bytes. Returns "" on success, else a message that does not name
// the path ("no such file", "not a regular file", "12 bytes is over the limit of ...").
std::string read_file_limited(const std::string& path, uint64_t max_bytes, std::string* bytes);

// An input that starts http:// or https://, which kinds that take files or URLs fetch
// rather than open; anything else is a path.
bool is_http_address(std::string_view input);

// A hidden, unique temporary name beside dest that keeps dest's extension:
// "dir/.stem.<pid>.<n>.tmp.ext".
std::string temp_path_beside(const std::string& dest);

// A folder as given ("images/", "out//") without the slashes that would double in the
// paths made from it ("images//x.jpg"); "/" stays "/".
std::string without_trailing_slashes(std::string dir);

// Makes the folder dir (and its parents) where it is missing and checks that files can be
// created in it; "" when they can, else why not, naming dir ("cannot write in out/: Read-
// only file system", "out.txt is a file, not a folder").
std::string prepare_output_folder(const std::string& dir);

// dest already exists and was not to be replaced.
struct FileExists : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Renames tmp to dest, removing tmp if that fails (throws std::runtime_error then).
// replace: over whatever dest is (a symlink there is replaced, never followed); else
// FileExists if dest exists, atomically (no check-then-rename window).
void commit_temp(const std::string& tmp, const std::string& dest, bool replace);

// Writes bytes to dest through a temporary; nothing is left behind on failure (throws).
void write_file_atomically(const std::string& dest, const std::string& bytes, bool replace);

}  // namespace procpool::kinds
