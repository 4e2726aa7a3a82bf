// sum-squares and wordcount: their pure parts, and the reduce half of map-reduce.
#include <gtest/gtest.h>

#include "child/kinds/text.hpp"
#include "supervisor/run_reduce.hpp"

using namespace procpool;

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
  const auto pieces = supervisor::split_range(100'000'000, 7);
  ASSERT_EQ(pieces.size(), 7u);
  EXPECT_EQ(pieces.front().substr(0, 2), "0 ");
  EXPECT_EQ(pieces.back().substr(pieces.back().find(' ') + 1), "100000000");
  auto sum = supervisor::make_reducer("sum-squares", {});
  for (const auto& p : pieces) {
    const auto space = p.find(' ');
    sum->add(kinds::sum_of_squares(std::stoull(p.substr(0, space)), std::stoull(p.substr(space + 1))));
  }
  EXPECT_EQ(sum->finish(), "333333328333333350000000\n");
  EXPECT_EQ(supervisor::split_range(3, 10).size(), 3u);  // never an empty piece
  EXPECT_EQ(supervisor::make_reducer("thumbnail", {}), nullptr);
}

TEST(Reduce, MergesWordCountsAndRanksTheTop) {
  auto merge = supervisor::make_reducer("wordcount", {2});
  merge->add(R"({"a": 3, "b": 1})");
  merge->add(R"({"b": 4, "c": 2})");
  merge->add("not json");  // ignored
  EXPECT_EQ(merge->finish(), "10 words, 3 distinct\n5 b\n3 a\n");
}
