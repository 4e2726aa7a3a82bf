// The run's picture: `procpool run --timeline` and `procpool timeline`, rendered by a real
// SVG renderer (rsvg-convert, librsvg) and checked pixel by pixel where lanes and bars
// must be.
#include <Magick++.h>
#include <unistd.h>

#include <filesystem>
#include <gtest/gtest.h>
#include <string>

#include "supervisor/observe/timeline.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::supervisor::timeline_lane_top;
using procpool::supervisor::timeline_x;
using procpool::supervisor::TimelineLayout;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::read_file;
using procpool::testing::run_cli;

namespace {

struct Rgb {
  int r, g, b;
};

class Timeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Magick::InitializeMagick(nullptr); }
  void SetUp() override {
    dir_ = procpool::testing::fresh_test_dir("timeline");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Renders the SVG with rsvg-convert and loads the PNG.
  Magick::Image render(const std::string& svg) {
    const std::string png = svg + ".png";
    const std::string cmd = "rsvg-convert '" + svg + "' -o '" + png + "' 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "rsvg-convert failed on " << read_file(svg).substr(0, 300);
    Magick::Image image;
    image.read(png);
    return image;
  }
  static Rgb at(Magick::Image& image, double x, int y) {
    const Magick::ColorRGB c = image.pixelColor(static_cast<std::size_t>(x), static_cast<std::size_t>(y));
    return {static_cast<int>(c.red() * 255), static_cast<int>(c.green() * 255), static_cast<int>(c.blue() * 255)};
  }
  static bool bar(const Rgb& c) { return c.b > c.r + 40; }  // a blue-ish bar (the first kind's colour)
  static bool background(const Rgb& c) { return c.r > 225 && c.g > 225 && c.b > 225; }

  fs::path dir_;
};

double total_ms(const std::vector<json>& results) {
  double total = 0;
  for (const json& j : results)
    if (j.contains("end_ms")) total = std::max(total, j["end_ms"].get<double>());
  return total;
}

}  // namespace

TEST_F(Timeline, ARunDrawsALanePerWorkerWithItsBars) {
  // Two tasks of 400 ms on two workers: both lanes busy in the middle of the run, and no
  // third lane.
  const CliRun r = run_cli("run sleep -j 2 --timeline " + path("run.svg") + " --results " + path("r.jsonl") + " 400 400");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(read_file(path("r.jsonl")));
  ASSERT_EQ(results.size(), 2u);
  const double total = total_ms(results);
  Magick::Image image = render(path("run.svg"));
  const int lane_mid = TimelineLayout::kLaneHeight / 2;
  for (const json& j : results) {
    const int lane = j["worker"].get<int>();
    const double mid = (j["start_ms"].get<double>() + j["end_ms"].get<double>()) / 2;
    EXPECT_TRUE(bar(at(image, timeline_x(mid, total), timeline_lane_top(lane) + lane_mid))) << "lane " << lane;
    // Before the task started (the workers' start-up), the lane is empty.
    EXPECT_FALSE(bar(at(image, timeline_x(j["start_ms"].get<double>() / 2, total), timeline_lane_top(lane) + lane_mid)));
  }
  // Between the lanes, and where a third lane would be: background.
  EXPECT_TRUE(background(at(image, timeline_x(total / 2, total), timeline_lane_top(1) - 2)));
  EXPECT_TRUE(background(at(image, timeline_x(total / 2, total), timeline_lane_top(2) + TimelineLayout::kAxisHeight)));
  const std::string svg = read_file(path("run.svg"));
  EXPECT_NE(svg.find("procpool run sleep: 2 tasks, 2 ok, 2 workers"), std::string::npos);
}

TEST_F(Timeline, AnEarlierRunIsDrawnFromItsResultsFile) {
  ASSERT_EQ(run_cli("run sleep -j 1 --results " + path("r.jsonl") + " 300 100").status, 0);
  const CliRun r = run_cli("timeline " + path("r.jsonl") + " -o " + path("later.svg"));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(read_file(path("r.jsonl")));
  Magick::Image image = render(path("later.svg"));
  const double total = total_ms(results);
  for (const json& j : results) {
    const double mid = (j["start_ms"].get<double>() + j["end_ms"].get<double>()) / 2;
    EXPECT_TRUE(bar(at(image, timeline_x(mid, total), timeline_lane_top(0) + TimelineLayout::kLaneHeight / 2)));
  }
  // "-" is stdout, as for every other file procpool writes, not a file named "-".
  const CliRun to_stdout = run_cli("timeline " + path("r.jsonl") + " -o -");
  ASSERT_EQ(to_stdout.status, 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out, read_file(path("later.svg")));
  EXPECT_FALSE(fs::exists("-"));
  const CliRun run_to_stdout = run_cli("run sleep 10 --no-summary --timeline -");
  ASSERT_EQ(run_to_stdout.status, 0) << run_to_stdout.err;
  EXPECT_EQ(run_to_stdout.out.rfind("<svg", 0), 0u) << run_to_stdout.out.substr(0, 200);
  EXPECT_NE(run_to_stdout.out.find("procpool run sleep: 1 task, 1 ok"), std::string::npos);
  // Unless stdout carries something else already: refused before any task.
  for (const char* args : {"sleep 10 --results - --timeline -", "sum-squares --n 100 --timeline -"}) {
    const CliRun taken = run_cli(std::string("run ") + args);
    EXPECT_EQ(taken.status, 2) << args;
    EXPECT_NE(taken.err.find("--timeline -: stdout already carries this run's"), std::string::npos) << taken.err;
    EXPECT_TRUE(taken.out.empty()) << taken.out;
  }
  // Mistakes are clear errors.
  CliRun bad = run_cli("timeline " + path("missing.jsonl") + " -o " + path("x.svg"));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("cannot read"), std::string::npos) << bad.err;
  std::ofstream(path("junk.jsonl")) << "not json\n{\"no\": \"status\"}\n";
  bad = run_cli("timeline " + path("junk.jsonl") + " -o " + path("x.svg"));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("no result lines"), std::string::npos) << bad.err;
}

TEST_F(Timeline, AWorkerDeathIsMarkedWhereItHappened) {
  std::string inputs;
  for (int i = 0; i < 10; ++i) inputs += "sleep:20\n";
  inputs += "abort\n";
  for (int i = 0; i < 10; ++i) inputs += "sleep:20\n";
  const CliRun r = run_cli("run misbehave --plugin " + std::string(TEST_PLUGIN) + " -j 1 --max-attempts 1 --timeline " +
                               path("crash.svg") + " --input-file -",
                           inputs);
  EXPECT_EQ(r.status, 1) << r.err;
  const std::string svg = read_file(path("crash.svg"));
  EXPECT_NE(svg.find("1 crashed, 20 ok"), std::string::npos) << svg.substr(0, 600);
  EXPECT_NE(svg.find("took over</title>"), std::string::npos);  // the death mark
  Magick::Image image = render(path("crash.svg"));
  bool red = false;  // the mark's colour, on the lane
  for (int x = TimelineLayout::kLeft; x < TimelineLayout::kWidth && !red; ++x) {
    const Rgb c = at(image, x, timeline_lane_top(0) + 3);
    red = c.r > 180 && c.g < 90 && c.b < 90;
  }
  EXPECT_TRUE(red);
}

TEST_F(Timeline, ATimedOutTaskIsDrawnUntilItsKillInItsOwnColour) {
  // The result line of a timed-out task carries when it started and when its worker was
  // killed, so the picture shows the time it held the worker.
  const CliRun r = run_cli("run misbehave --plugin " + std::string(TEST_PLUGIN) +
                               " -j 1 --max-attempts 1 --timeout 0.4 --timeline " + path("timeout.svg") +
                               " --results " + path("r.jsonl") + " sleep:20 hang sleep:20 segv sleep:20");
  EXPECT_EQ(r.status, 1) << r.err;
  const auto results = json_lines(read_file(path("r.jsonl")));
  ASSERT_EQ(results.size(), 5u);
  const double total = total_ms(results);
  Magick::Image image = render(path("timeout.svg"));
  bool saw_timeout = false;
  for (const json& j : results) {
    if (j["status"] != "timeout") continue;
    saw_timeout = true;
    ASSERT_TRUE(j.contains("start_ms") && j.contains("end_ms")) << j.dump();
    const double held = j["end_ms"].get<double>() - j["start_ms"].get<double>();
    EXPECT_GE(held, 390);
    EXPECT_LT(held, 1500);
    EXPECT_NEAR(j["run_ms"].get<double>(), held, 1);
    const Rgb c = at(image, timeline_x(j["start_ms"].get<double>() + held / 2, total),
                     timeline_lane_top(0) + TimelineLayout::kLaneHeight / 2);
    EXPECT_TRUE(c.r > 200 && c.g > 110 && c.g < 180 && c.b < 90) << c.r << "," << c.g << "," << c.b;
  }
  EXPECT_TRUE(saw_timeout);
  const std::string svg = read_file(path("timeout.svg"));
  EXPECT_NE(svg.find("timed out, killed"), std::string::npos);    // the legend says what orange is
  EXPECT_NE(svg.find("crashed its worker"), std::string::npos);  // and the crash's colour
  EXPECT_NE(svg.find("1 crashed, 3 ok, 1 timeout"), std::string::npos) << svg.substr(0, 600);
}

TEST_F(Timeline, ManyTasksBecomeUtilisationBandsInASmallFile) {
  const CliRun r = run_cli("run noop -j 2 --no-summary --timeline " + path("many.svg") + " --input-file -",
                           [] {
                             std::string s;
                             for (int i = 0; i < 50000; ++i) s += std::to_string(i) + "\n";
                             return s;
                           }());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(fs::file_size(path("many.svg")), 2u << 20);  // not 50000 bars
  EXPECT_NE(read_file(path("many.svg")).find("50000 tasks, 50000 ok"), std::string::npos);
  render(path("many.svg"));  // and a renderer takes it
}
