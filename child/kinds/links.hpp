#pragma once
// `--links-from URL`: the links of a JSON listing (an Imgur-style gallery API answer,
// {"data": [{"link": ..., "type": "image/jpeg"}, ...]}), to download them.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace procpool::kinds {

struct LinkQuery {
  std::string path = "data[].link";  // keys separated by '.', "[]" steps into each element
  std::string type_field = "type";   // beside the link: its media type, checked against accept
  std::vector<std::string> accept;   // media types (or type/*); empty keeps every link
};

struct Links {
  std::vector<std::string> urls;
  std::size_t filtered = 0;  // skipped: a type not accepted
  std::size_t invalid = 0;   // skipped: not a string
};

// Throws std::invalid_argument for a malformed path, std::runtime_error (with what is
// wrong and where) for a document that is not JSON or has nothing at the path.
Links extract_links(std::string_view json_text, const LinkQuery& query);

}  // namespace procpool::kinds
