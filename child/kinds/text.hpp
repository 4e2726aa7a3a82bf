#pragma once
// Word counting, a pure function (unit-tested without files).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace procpool::kinds {

// Words of UTF-8 text: maximal runs of letters and digits (ASCII, and any non-ASCII
// character, so "café" and "naïve" stay whole), with inner apostrophes ("don't"), ASCII
// lowercased. Returns nullopt if text is not valid UTF-8.
std::optional<std::map<std::string, uint64_t>> count_words(std::string_view text);

// Exact sum of i*i for i in [begin, end), end <= kMaxSquaresEnd, as decimal (it passes
// 2^64 near end = 3.8 million; below 2^40 it stays under 2^119, within 128 bits).
inline constexpr uint64_t kMaxSquaresEnd = uint64_t{1} << 40;
std::string sum_of_squares(uint64_t begin, uint64_t end);

}  // namespace procpool::kinds
