#include "child/kinds/text.hpp"

#include <algorithm>
#include <cctype>

#include "child/kinds/utf8.hpp"

namespace procpool::kinds {

namespace {
bool word_byte(unsigned char c) { return std::isalnum(c) != 0 || c >= 0x80; }
}  // namespace

std::optional<std::map<std::string, uint64_t>> count_words(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_length(text, i);
    if (n == 0) return std::nullopt;
    i += n;
  }
  std::map<std::string, uint64_t> counts;
  std::string word;
  auto flush = [&] {
    while (!word.empty() && word.back() == '\'') word.pop_back();
    if (!word.empty()) ++counts[word];
    word.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (word_byte(c)) {
      word += static_cast<char>(c < 0x80 ? std::tolower(c) : c);
    } else if (c == '\'' && !word.empty() && i + 1 < text.size() &&
               word_byte(static_cast<unsigned char>(text[i + 1]))) {
      word += '\'';
    } else {
      flush();
    }
  }
  flush();
  return counts;
}

std::string sum_of_squares(uint64_t begin, uint64_t end) {
  __extension__ using u128 = unsigned __int128;
  u128 total = 0;
  for (uint64_t i = begin; i < end; ++i) total += static_cast<u128>(i) * i;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(total % 10)));
    total /= 10;
  } while (total != 0);
  return digits;
}

}  // namespace procpool::kinds
