#pragma once
// Where a batch job's inputs come from: arguments and a file of lines (or stdin). A kind
// may expand them further (ipc/kind_schema.hpp's KindHooks).
#include <istream>
#include <string>
#include <vector>

namespace procpool::supervisor {

// Appends each non-empty line of in (a trailing '\r' removed) to out; with null, each
// non-empty NUL-terminated item instead (find -print0), kept as it is.
void read_input_lines(std::istream& in, std::vector<std::string>& out, bool null = false);

// Reads lines (or NUL-terminated items) from path, or from stdin when path is "-". Throws
// std::runtime_error when the file cannot be read.
std::vector<std::string> read_input_file(const std::string& path, bool null = false);

}  // namespace procpool::supervisor
