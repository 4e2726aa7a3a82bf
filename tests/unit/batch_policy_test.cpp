// The batch job's own parsers and rules: --halt's forms (GNU parallel's, old numbers
// too) and when each is reached; the input sources' combinations.
#include <gtest/gtest.h>

#include "supervisor/batch/halt.hpp"
#include "supervisor/batch/input_sources.hpp"
#include "supervisor/engine/admission.hpp"
#include "supervisor/observe/durations.hpp"
#include "supervisor/observe/report.hpp"

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

// The summary's percentiles: exact while a run is small, then within 0.4% of the exact
// value in a fixed 58 KiB, however many tasks ran.
TEST(Durations, ExactWhileSmallThenWithinAFractionOfAPercent) {
  procpool::supervisor::Durations small;
  for (uint64_t v : {5u, 1u, 9u, 3u, 7u}) small.add(v);
  EXPECT_EQ(small.percentile(50), 5u);
  EXPECT_EQ(small.percentile(100), 9u);

  procpool::supervisor::Durations big;
  std::vector<uint64_t> all;
  uint64_t x = 88172645463325252ull;  // xorshift: durations from 1 ns to about a minute
  for (std::size_t i = 0; i < 3 * procpool::supervisor::Durations::kExact; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint64_t v = x >> (28 + x % 36);
    big.add(v);
    all.push_back(v);
  }
  EXPECT_EQ(big.count(), all.size());
  for (double p : {1.0, 50.0, 95.0, 99.0, 99.9, 100.0}) {
    const uint64_t exact = procpool::supervisor::percentile(all, p);
    const uint64_t estimate = big.percentile(p);
    if (exact < 128) {
      EXPECT_EQ(estimate, exact) << "p" << p;
    } else {
      EXPECT_NEAR(static_cast<double>(estimate), static_cast<double>(exact), static_cast<double>(exact) * 0.004)
          << "p" << p;
    }
  }
}

TEST(Progress, AnInputStillBeingReadGivesNoShareAndNoEta) {
  procpool::supervisor::RunStats stats(0);
  const std::string reading = stats.progress_line(10, 1'000'000'000, false);
  EXPECT_NE(reading.find("0/10+"), std::string::npos) << reading;
  EXPECT_EQ(reading.find("ETA"), std::string::npos) << reading;
  EXPECT_EQ(reading.find('%'), std::string::npos) << reading;
  const std::string known = stats.progress_line(10, 1'000'000'000, true);
  EXPECT_NE(known.find("0/10 0%"), std::string::npos) << known;
}
