#include "child/kinds/folder_files.hpp"

#include <algorithm>
#include <stdexcept>

namespace procpool::kinds {

namespace fs = std::filesystem;

namespace {
template <typename Iterator>
void collect(Iterator it, const FolderWalk& walk, std::error_code& ec, std::vector<std::string>& files) {
  for (const Iterator end; !ec && it != end; it.increment(ec)) {
    const fs::file_type type = walk.follow_file_links ? it->status(ec).type() : it->symlink_status(ec).type();
    if (type == fs::file_type::regular && (!walk.keep || walk.keep(it->path()))) files.push_back(it->path().string());
  }
}
}  // namespace

std::vector<std::string> expand_folders(const std::vector<std::string>& paths, const FolderWalk& walk) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> files;
    if (walk.recursive) collect(fs::recursive_directory_iterator(path, ec), walk, ec, files);
    else collect(fs::directory_iterator(path, ec), walk, ec, files);
    if (ec) throw std::runtime_error("cannot list folder " + path + ": " + ec.message());
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

}  // namespace procpool::kinds
