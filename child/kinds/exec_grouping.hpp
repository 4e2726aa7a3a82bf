#pragma once
// exec's -m and -X, as GNU parallel's: as many inputs per command as its line has room
// for, spread evenly over the jobs while there are fewer than they could take.
#include <cstddef>
#include <string>
#include <vector>

namespace procpool::kinds {

// The inputs, each one value, grouped into inputs of several values (joined by NUL, as
// ipc/input_values.hpp): each group's command, templ with the group
// replaced into it (context: -X's, shell: --shell's line), at most max_chars long
// counting a byte between arguments; at least min(workers, inputs) groups, their sizes
// as even as the lengths allow. Throws std::invalid_argument for an input of several
// values, or one whose command alone is longer than max_chars.
std::vector<std::string> grouped_for_command_line(const std::vector<std::string>& inputs,
                                                  const std::vector<std::string>& templ, bool context, bool shell,
                                                  std::size_t max_chars, unsigned workers);

}  // namespace procpool::kinds
