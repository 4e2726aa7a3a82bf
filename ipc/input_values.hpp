#pragma once
// An input of several values (run's ":::" sources combined, --colsep, -n; exec's -m and
// -X): the values joined by NUL. No command-line argument can hold a NUL, so the join is
// unambiguous. `run` writes it (supervisor/batch/input_sources.hpp), exec's grouping
// writes it (child/kinds/exec_grouping.hpp) and exec's template reads it
// (child/kinds/exec_template.hpp): the one place its form is defined.
#include <string>
#include <string_view>
#include <vector>

namespace procpool::ipc {

inline constexpr char kValueSeparator = '\0';

// The values from first to last, joined.
template <typename It>
std::string join_values(It first, It last) {
  std::string out;
  for (It it = first; it != last; ++it) {
    if (it != first) out.push_back(kValueSeparator);
    out += *it;
  }
  return out;
}

// An input's values: itself alone when it holds no separator.
inline std::vector<std::string> split_values(std::string_view input) {
  std::vector<std::string> values;
  for (std::size_t at = 0;;) {
    const std::size_t sep = input.find(kValueSeparator, at);
    values.emplace_back(input.substr(at, sep == std::string_view::npos ? std::string_view::npos : sep - at));
    if (sep == std::string_view::npos) return values;
    at = sep + 1;
  }
}

}  // namespace procpool::ipc
