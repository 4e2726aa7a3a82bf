// sum-squares and wordcount: their pure parts, and the reduce half of map-reduce as the
// kinds declare it (their hooks in the registry, which `run` calls).
#include <gtest/gtest.h>

#include "child/kinds/text.hpp"
#include "child/kinds/reduce.hpp"
#include "child/task_api.hpp"

using namespace procpool;

namespace {
KindSchema builtin(const std::string& name) {
  KindRegistry registry;
  register_builtin_kinds(registry);
  return registry.find(name)->schema();
}
KindOptions checked(const KindSchema& kind, std::map<std::string, std::string> given) {
  KindOptions o;
  for (const auto& [k, v] : given) o.set(k, v);
  return kind.checked(o);
}
}  // namespace

TEST(WordCount, CountsWordsCaseFoldedWithApostrophesAndUnicode) {
  const auto counts = kinds::count_words("The cat's hat. THE CAT! Don't stop -- café, naïve 42 'quoted'");
  ASSERT_TRUE(counts);
  const std::map<std::string, uint64_t> expected = {{"the", 2}, {"cat's", 1}, {"hat", 1}, {"cat", 1}, {"don't", 1},
                                                    {"stop", 1}, {"café", 1}, {"naïve", 1}, {"42", 1}, {"quoted", 1}};
  EXPECT_EQ(*counts, expected);
  EXPECT_TRUE(kinds::count_words("")->empty());
}

TEST(WordCount, RejectsTextThatIsNotUtf8) {
  EXPECT_FALSE(kinds::count_words("latin-1 caf\xe9 here"));
  EXPECT_FALSE(kinds::count_words("truncated \xe2\x82"));
  EXPECT_FALSE(kinds::count_words("overlong \xc0\xaf"));
  EXPECT_TRUE(kinds::count_words("euro \xe2\x82\xac ok"));
}

TEST(SumSquares, MatchesTheClosedFormBeyond64Bits) {
  __extension__ using u128 = unsigned __int128;
  auto closed = [](u128 n) { return n * (n - 1) * (2 * n - 1) / 6; };  // sum of i*i, i < n
  auto decimal = [](u128 v) {
    std::string s;
    do {
      s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
      v /= 10;
    } while (v != 0);
    return s;
  };
  for (uint64_t n : {0ull, 1ull, 2ull, 10ull, 1000ull, 5'000'000ull}) EXPECT_EQ(kinds::sum_of_squares(0, n), decimal(closed(n)));
  EXPECT_EQ(kinds::sum_of_squares(10, 13), "365");  // 100 + 121 + 144
}

TEST(Reduce, SplitsARangeAndAddsThePiecesExactly) {
  const KindSchema kind = builtin("sum-squares");
  const auto pieces = kind.hooks.expand_inputs({}, checked(kind, {{"n", "100000000"}, {"chunks", "7"}}), 2);
  ASSERT_EQ(pieces.size(), 7u);
  EXPECT_EQ(pieces.front().substr(0, 2), "0 ");
  EXPECT_EQ(pieces.back().substr(pieces.back().find(' ') + 1), "100000000");
  auto sum = kind.hooks.reducer(checked(kind, {}));
  for (const auto& p : pieces) {
    const auto space = p.find(' ');
    sum->add(kinds::sum_of_squares(std::stoull(p.substr(0, space)), std::stoull(p.substr(space + 1))));
  }
  EXPECT_EQ(sum->finish(), "333333328333333350000000\n");
  EXPECT_EQ(kinds::split_range(3, 10).size(), 3u);  // never an empty piece
  EXPECT_EQ(kind.hooks.expand_inputs({}, checked(kind, {{"n", "1000"}}), 3).size(), 24u);  // 8 per worker
  EXPECT_FALSE(builtin("thumbnail").hooks.reducer);
}

TEST(Reduce, MergesWordCountsAndRanksTheTop) {
  const KindSchema kind = builtin("wordcount");
  auto merge = kind.hooks.reducer(checked(kind, {{"top", "2"}}));
  merge->add(R"({"a": 3, "b": 1})");
  merge->add(R"({"b": 4, "c": 2})");
  merge->add("not json");  // ignored
  EXPECT_EQ(merge->finish(), "10 words, 3 distinct\n5 b\n3 a\n");
}
