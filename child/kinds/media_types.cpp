#include "child/kinds/media_types.hpp"

#include <cctype>

namespace procpool::kinds {

std::string media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  if (semi != std::string_view::npos) content_type = content_type.substr(0, semi);
  while (!content_type.empty() && std::isspace(static_cast<unsigned char>(content_type.front())))
    content_type.remove_prefix(1);
  while (!content_type.empty() && std::isspace(static_cast<unsigned char>(content_type.back())))
    content_type.remove_suffix(1);
  std::string out(content_type);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool media_type_accepted(std::string_view content_type, const std::vector<std::string>& accept) {
  if (accept.empty()) return true;
  const std::string type = media_type(content_type);
  for (const std::string& want : accept) {
    const std::string w = media_type(want);
    if (w == type || w == "*/*") return true;
    if (w.size() > 2 && w.compare(w.size() - 2, 2, "/*") == 0 && type.compare(0, w.size() - 1, w, 0, w.size() - 1) == 0)
      return true;
  }
  return false;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string item = media_type(text.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace procpool::kinds
