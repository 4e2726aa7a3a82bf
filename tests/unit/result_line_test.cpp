// The result line `run --results` and `serve` write, built directly, against the same
// line built as a nlohmann::json document (the reference, which it replaced for speed):
// byte for byte, over random results of every shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <random>
#include <string>

#include "supervisor/observe/result_line.hpp"

using procpool::supervisor::Completion;

namespace {

std::string random_text(std::mt19937_64& rng) {
  static const std::string kPieces[] = {"a", "photo_001.jpg", " ", "\"", "\\", "\n", "\t", "\r", "\b", "\f",
                                        std::string(1, '\0'), "\x01", "\x1f", "\x7f", "/", "{}", "caf\xc3\xa9",
                                        "\xff", "\xc3", "\xe2\x82\xac", "\xed\xa0\x80", "123", "%s", "\xf0\x9f\x98\x80"};
  std::string out;
  for (std::size_t n = rng() % 8; n > 0; --n) out += kPieces[rng() % std::size(kPieces)];
  return out;
}

uint64_t random_ns(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0: return 0;
    case 1: return rng() % 2000;                   // under a microsecond: 0.0 or 0.001 ms
    case 2: return rng() % 1'000'000'000;          // under a second
    case 3: return 1'000'000 * (rng() % 100'000);  // whole milliseconds
    default: return rng() % (uint64_t{1} << 50);   // days
  }
}

}  // namespace

TEST(ResultLine, MatchesTheJsonDocumentByteForByte) {
  std::mt19937_64 rng(20261207);
  const std::string kinds[] = {"noop", "exec", "thumbnail", "k\"ind"};
  const std::string json_outputs[] = {"{\"width\":128,\"height\":96,\"path\":\"a/b_thumbnail.jpg\"}", "[1,2.5,null]",
                                      "{\"broken\":", "\"text\"", "42"};
  int direct = 0;
  for (int i = 0; i < 200'000; ++i) {
    Completion c;
    c.id = rng() % 3 == 0 ? rng() : rng() % 1000;
    c.kind = 0;
    c.status = procpool::ipc::status_at(static_cast<int>(rng() % procpool::ipc::kStatusCount));
    const std::string input = random_text(rng);
    std::string output = random_text(rng);
    c.output_is_json = rng() % 4 == 0;
    if (c.output_is_json) output = json_outputs[rng() % std::size(json_outputs)];
    c.input = input;
    c.output = output;
    c.cpu_measured = rng() % 2 == 0;
    c.attempts = static_cast<uint32_t>(rng() % 4);
    c.worker = static_cast<int>(rng() % 4) - 1;
    c.pid = static_cast<pid_t>(rng() % 100000);
    const uint64_t origin = random_ns(rng);
    c.queued_ns = origin + random_ns(rng);
    c.start_ns = rng() % 4 == 0 ? 0 : c.queued_ns + random_ns(rng);
    c.end_ns = c.start_ns + random_ns(rng);
    c.cpu_ns = random_ns(rng);
    c.max_rss_kb = rng() % 3 == 0 ? 0 : rng() % 10'000'000;
    c.signal = rng() % 3 == 0 ? static_cast<int>(rng() % 70) : 0;
    c.exit_code = static_cast<int>(rng() % 300) - 2;
    const std::string& kind = kinds[rng() % std::size(kinds)];
    const uint64_t run_start = rng() % 2 == 0 ? origin : c.start_ns + 1;  // start_ms clamps at 0
    const std::string fast = procpool::supervisor::result_json_line(c, kind, run_start);
    const std::string reference = procpool::supervisor::result_json_line_reference(c, kind, run_start);
    ASSERT_EQ(fast, reference) << "result " << i;
    const auto is_ascii = [](const std::string& t) {
      return std::all_of(t.begin(), t.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
    };
    const bool json_ok = c.status == procpool::ipc::Status::ok && c.output_is_json;
    if (!json_ok && is_ascii(input) && is_ascii(output)) ++direct;  // the direct writer's case
  }
  EXPECT_GT(direct, 20'000) << "too few results took the direct writer's path";
}
