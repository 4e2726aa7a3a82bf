#include "child/kinds/image_folders.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "child/kinds/folder_files.hpp"

namespace procpool::kinds {

namespace fs = std::filesystem;

namespace {
bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kImageExtensions[] = {".jpg", ".jpeg", ".png", ".gif", ".bmp",
                                                 ".tif", ".tiff", ".webp"};
  if (std::none_of(std::begin(kImageExtensions), std::end(kImageExtensions),
                   [&](const char* e) { return ext == e; }))
    return false;
  return !is_thumbnail_name(p);
}
}  // namespace

bool is_thumbnail_name(const fs::path& path) {
  const std::string stem = path.stem().string();
  const std::string mark = "_thumbnail";
  return stem.size() >= mark.size() && stem.compare(stem.size() - mark.size(), mark.size(), mark) == 0;
}

std::vector<std::string> expand_image_folders(const std::vector<std::string>& paths) {
  return expand_folders(paths, FolderWalk{false, true, is_image_name});
}

}  // namespace procpool::kinds
