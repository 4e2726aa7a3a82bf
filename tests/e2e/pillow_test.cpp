// Thumbnails against live Pillow (Debian's python3-pil) on the same files: every PNG colour
// type and depth, baseline, progressive, grey and huge JPEGs, odd aspect ratios. The size
// must be Pillow's Image.thumbnail((128, 128)) exactly; the pixels within a PSNR bound
// (the filters differ: Pillow's bicubic after a reduce, and its JPEG draft mode, against
// procpool's triangle filter after libjpeg's DCT scaling; and JPEGs are encoded again).
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::run_cli;

namespace {

std::string python(const std::string& args) {
  const std::string cmd = std::string(TEST_PYTHON) + " " + PILLOW_COMPARE + " " + args;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

}  // namespace

TEST(Pillow, ThumbnailsHavePillowsSizesAndNearlyItsPixels) {
  const fs::path dir = procpool::testing::fresh_test_dir("pillow");
  const std::string in = (dir / "in").string(), out = (dir / "out").string();
  python("make " + in);
  const CliRun r = run_cli("run thumbnail --no-summary --out " + out + " " + in);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = json_lines(python("compare " + in + " " + out));
  ASSERT_EQ(lines.size(), 13u);
  for (const json& j : lines) {
    const std::string name = j["name"];
    EXPECT_EQ(j["procpool"], j["pillow"]) << name;
    ASSERT_TRUE(j.contains("psnr")) << j;
    // Measured here: JPEGs 29.5-35 dB, PNGs 34-46 dB.
    const double bound = name.ends_with(".jpg") ? 28.0 : 33.0;
    EXPECT_GE(j["psnr"].get<double>(), bound) << name;
    std::printf("%-16s %3d x %-3d %5.1f dB\n", name.c_str(), j["pillow"][0].get<int>(), j["pillow"][1].get<int>(),
                j["psnr"].get<double>());
  }
  fs::remove_all(dir);
}
