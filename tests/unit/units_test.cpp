#include "ipc/units.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "supervisor/batch/resume.hpp"

using namespace procpool;
using namespace procpool::supervisor;

TEST(Units, Bytes) {
  EXPECT_EQ(parse_bytes("1048576"), 1048576u);
  EXPECT_EQ(parse_bytes("512K"), 512u * 1024);
  EXPECT_EQ(parse_bytes("300M"), 300ull << 20);
  EXPECT_EQ(parse_bytes("300MiB"), 300ull << 20);
  EXPECT_EQ(parse_bytes("2g"), 2ull << 30);
  EXPECT_EQ(parse_bytes("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_bytes("64MB"), 64ull << 20);
  for (const char* bad : {"", "M", "-5M", "0", "1..5M", "12Q", "abc", "1e9", "99999999999T"})
    EXPECT_FALSE(parse_bytes(bad).has_value()) << bad;
}

TEST(Units, Timeouts) {
  EXPECT_EQ(parse_timeout("30")->ns, 30'000'000'000ull);
  EXPECT_EQ(parse_timeout("2.5s")->ns, 2'500'000'000ull);
  EXPECT_EQ(parse_timeout("0.25")->ns, 250'000'000ull);
  EXPECT_EQ(parse_timeout("300%")->percent, 300u);
  EXPECT_EQ(parse_timeout("300%")->ns, 0u);
  for (const char* bad : {"", "%", "0", "-1", "abc", "1.5%", "10 s", "0.0001"})
    EXPECT_FALSE(parse_timeout(bad).has_value()) << bad;
}

// --resume's reader: fields of the wrong type make a line unreadable, never an exception
// (found by fuzz_resume: {"kind":0,...}).
TEST(Resume, LinesWithFieldsOfTheWrongTypeAreSkipped) {
  const std::string path = "/tmp/procpool-resume-test-" + std::to_string(getpid()) + ".jsonl";
  std::ofstream(path) << R"({"kind":"noop","input":"a","status":"ok"})" "\n"
                      << R"({"kind":0,"input":"b","status":"ok"})" "\n"
                      << R"({"kind":"noop","input":"c","status":["ok"]})" "\n"
                      << R"({"kind":"noop","input":"a","status":"ok"})" "\n";
  std::size_t skipped = 0;
  const auto done = finished_inputs(path, "noop", &skipped);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(done.at("a"), 2u);
  std::remove(path.c_str());
}
