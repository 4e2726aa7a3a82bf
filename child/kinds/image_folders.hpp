#pragma once
// thumbnail's input expansion: a folder given to `run thumbnail` becomes its images.
#include <filesystem>
#include <string>
#include <vector>

namespace procpool::kinds {

// Replaces each folder among paths by its image files (by extension, sorted, not
// recursive), leaving out earlier thumbnails ("*_thumbnail.*") so a second run over the
// same folder does not thumbnail its own output. Other paths stay as they are: a missing
// file becomes that task's error, not a usage error. Throws std::runtime_error when a
// folder cannot be listed.
std::vector<std::string> expand_image_folders(const std::vector<std::string>& paths);

// "*_thumbnail.*": a name thumbnail_path() gives, whatever the extension's case.
bool is_thumbnail_name(const std::filesystem::path& path);

}  // namespace procpool::kinds
