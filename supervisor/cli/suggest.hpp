#pragma once
// "did you mean": the known word nearest to a mistyped one, as git and cargo suggest.
#include <string>
#include <string_view>
#include <vector>

namespace procpool::cli {

// The known word within two edits (insertions, deletions, substitutions, swaps of
// neighbours) of `typed`, or that `typed` begins; "" when none is that near or two tie.
std::string nearest(std::string_view typed, const std::vector<std::string>& known);

}  // namespace procpool::cli
