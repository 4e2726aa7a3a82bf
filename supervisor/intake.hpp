#pragma once
// Where a batch job's inputs come from: arguments, a file of lines (or stdin), and, for
// kinds that take image paths, folders expanded to the image files in them.
#include <istream>
#include <string>
#include <vector>

namespace procpool::supervisor {

// Appends each non-empty line of in (a trailing '\r' removed) to out.
void read_input_lines(std::istream& in, std::vector<std::string>& out);

// Reads lines from path, or from stdin when path is "-". Throws std::runtime_error when
// the file cannot be read.
std::vector<std::string> read_input_file(const std::string& path);

// Replaces each folder among paths by its image files (by extension, sorted, not
// recursive), leaving out earlier thumbnails ("*_thumbnail.*") so a second run over the
// same folder does not thumbnail its own output. Other paths stay as they are: a missing
// file becomes that task's error, not a usage error.
std::vector<std::string> expand_image_folders(const std::vector<std::string>& paths);

}  // namespace procpool::supervisor
