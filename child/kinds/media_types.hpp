#pragma once
// Media types as in Content-Type headers and --accept lists.
#include <string>
#include <string_view>
#include <vector>

namespace procpool::kinds {

// The media type of a Content-Type value ("image/jpeg" of "Image/JPEG; q=1"), lower case.
std::string media_type(std::string_view content_type);
// accept: media types, "type/*" wildcards; empty accepts everything.
bool media_type_accepted(std::string_view content_type, const std::vector<std::string>& accept);
// "image/jpeg, image/png" -> {"image/jpeg", "image/png"} (lower case, blanks dropped).
std::vector<std::string> split_list(std::string_view comma_separated);

}  // namespace procpool::kinds
