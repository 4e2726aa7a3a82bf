#include "child/kinds/image_folders.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

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
  const std::string stem = p.stem().string();
  const std::string mark = "_thumbnail";
  return !(stem.size() >= mark.size() && stem.compare(stem.size() - mark.size(), mark.size(), mark) == 0);
}
}  // namespace

std::vector<std::string> expand_image_folders(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> images;
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (entry.is_regular_file(ec) && is_image_name(entry.path())) images.push_back(entry.path().string());
    if (ec) throw std::runtime_error("cannot list folder " + path + ": " + ec.message());
    std::sort(images.begin(), images.end());
    out.insert(out.end(), images.begin(), images.end());
  }
  return out;
}

}  // namespace procpool::kinds
