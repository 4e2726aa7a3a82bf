#pragma once
// Input expansion for kinds that take files: a folder given to `run` becomes its files.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace procpool::kinds {

struct FolderWalk {
  bool recursive = false;         // the whole tree, or the folder's own files
  bool follow_file_links = true;  // a symlink to a file counts as a file (never a linked folder)
  std::function<bool(const std::filesystem::path&)> keep;  // empty: every file
};

// Each folder among paths replaced by its regular files (sorted); other paths stay as they
// are, so that a missing file becomes that task's error, not a usage error. Throws
// std::runtime_error naming a folder that cannot be listed.
std::vector<std::string> expand_folders(const std::vector<std::string>& paths, const FolderWalk& walk);

}  // namespace procpool::kinds
