// The batch job's own parsers and rules: --halt's forms (GNU parallel's, old numbers
// too) and when each is reached; the input sources' combinations.
#include <gtest/gtest.h>

#include "supervisor/batch/halt.hpp"
#include "supervisor/batch/input_sources.hpp"
#include "supervisor/engine/admission.hpp"

using namespace procpool::supervisor;

TEST(Halt, EveryFormGnuParallelAccepts) {
  for (const auto& [text, written] : std::vector<std::pair<std::string, std::string>>{
           {"never", "never"}, {"0", "never"}, {"1", "soon,fail=1"}, {"2", "now,fail=1"}, {"-1", "soon,success=1"},
           {"-2", "now,success=1"}, {"30%", "soon,fail=30%"}, {"now,fail=3", "now,fail=3"},
           {"soon,success=10%", "soon,success=10%"}, {"now,done=2", "now,done=2"}}) {
    const auto p = parse_halt(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(p->text(), written) << text;
  }
  for (const char* bad : {"", "soon", "soon,fail", "soon,fail=", "soon,fail=0", "later,fail=1", "now,oops=1",
                          "now,fail=101%", "now,fail=-1", "3", "fail=1,now"})
    EXPECT_FALSE(parse_halt(bad)) << bad;
}

TEST(Halt, ReachedByCountOrShare) {
  const HaltPolicy two = *parse_halt("soon,fail=2");
  EXPECT_FALSE(two.reached(1, 100, 200));
  EXPECT_TRUE(two.reached(2, 0, 200));
  const HaltPolicy half = *parse_halt("now,fail=50%");
  EXPECT_FALSE(half.reached(1, 1, 4));
  EXPECT_TRUE(half.reached(2, 0, 4));
  const HaltPolicy done = *parse_halt("now,done=3");
  EXPECT_TRUE(done.reached(1, 2, 10));
  EXPECT_FALSE(parse_halt("never")->reached(1000, 0, 1000));
}

TEST(InputSourceCombinations, EveryCombinationOrLinked) {
  const std::string nul(1, kValueSeparator);
  std::vector<InputSource> two{{{"a", "b"}, false}, {{"1", "2", "3"}, false}};
  auto out = combine_sources({}, two, {});
  EXPECT_EQ(out, (std::vector<std::string>{"a" + nul + "1", "a" + nul + "2", "a" + nul + "3", "b" + nul + "1",
                                           "b" + nul + "2", "b" + nul + "3"}));
  InputShape link;
  link.link = true;
  out = combine_sources({}, two, link);
  EXPECT_EQ(out, (std::vector<std::string>{"a" + nul + "1", "b" + nul + "2", "a" + nul + "3"}));  // wraps round
  InputShape pairs;
  pairs.max_args = 2;
  out = combine_sources({"1", "2", "3"}, {}, pairs);
  EXPECT_EQ(out, (std::vector<std::string>{"1" + nul + "2", "3"}));
  EXPECT_THROW(combine_sources({"x"}, two, pairs), std::invalid_argument);
  InputShape cols;
  cols.colsep = "\\s*,\\s*";
  out = combine_sources({"a , b,c"}, {}, cols);
  EXPECT_EQ(out, (std::vector<std::string>{"a" + nul + "b" + nul + "c"}));
  EXPECT_FALSE(has_several_values({"a", "b"}));
  EXPECT_TRUE(has_several_values({"a", "b" + nul + "c"}));
}

TEST(Memfree, ATaskFitsWhenItAndTheReserveDoNotPassTheMachine) {
  constexpr uint64_t G = uint64_t{1} << 30;
  EXPECT_EQ(memfree_fit_note(3 * G, 4 * G, 8 * G), "");
  EXPECT_EQ(memfree_fit_note(4 * G, 4 * G, 8 * G), "");
  EXPECT_EQ(memfree_fit_note(9 * G, 0, 8 * G), "");  // no --memfree: nothing to say
  EXPECT_EQ(memfree_fit_note(5 * G, 4 * G, 8 * G),
            "a task peaked at 5.0 GiB RSS, more than the 4.0 GiB that --memfree 4.0 GiB leaves of this machine's "
            "8.0 GiB: while one that big runs no other task starts, and it may not fit itself");
}
