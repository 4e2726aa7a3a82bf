#include "supervisor/cli/suggest.hpp"

#include <algorithm>
#include <cstddef>

namespace procpool::cli {
namespace {

// Optimal string alignment distance: Levenshtein plus the swap of two neighbours
// ("rnu" for "run" is one typo, not two).
std::size_t edits(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::string nearest(std::string_view typed, const std::vector<std::string>& known) {
  if (typed.empty() || typed.size() > 64) return "";
  std::string best;
  std::size_t best_edits = 3;  // more than two edits away is another word
  bool tie = false;
  for (const std::string& word : known) {
    const std::size_t n = word.compare(0, typed.size(), typed) == 0 ? 1 : edits(typed, word);
    if (n < best_edits) {
      best = word;
      best_edits = n;
      tie = false;
    } else if (n == best_edits) {
      tie = true;
    }
  }
  return tie ? "" : best;
}

}  // namespace procpool::cli
