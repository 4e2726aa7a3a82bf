// `procpool run` end to end, as a user runs it: the real executable, real image files
// (made here with Magick++), broken ones among them, JSONL results, exit statuses.
#include <Magick++.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using procpool::testing::CliRun;
using procpool::testing::run_cli;
std::vector<json> lines(const std::string& text) { return procpool::testing::json_lines(text); }

class Photos : public ::testing::Test {
 protected:
  void SetUp() override {
    Magick::InitializeMagick(nullptr);
    dir_ = fs::temp_directory_path() / ("procpool-photos-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    make("in/wide.jpg", "1600x1000", "gradient:red-blue");
    make("in/tall.png", "300x900", "gradient:white-green");
    make("in/small.jpg", "100x50", "plasma:");
    // A truncated JPEG: the first third of a real one.
    make("full.jpg", "1200x900", "plasma:fractal");
    std::ifstream full(dir_ / "full.jpg", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(full)), {});
    std::ofstream(dir_ / "in/truncated.jpg", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
    std::ofstream(dir_ / "in/notes.jpg") << "this is a text file, not a photo\n";
    std::ofstream(dir_ / "in/empty.jpg");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void make(const std::string& name, const std::string& size, const std::string& source) {
    Magick::Image img(Magick::Geometry(size), Magick::Color("white"));
    img.read(source);
    img.resize(Magick::Geometry(size + "!"));
    img.quality(85);
    img.write((dir_ / name).string());
  }
  fs::path dir_;
};

}  // namespace

TEST_F(Photos, ThumbnailsAFolderAndReportsBadFilesAsErrors) {
  const fs::path out = dir_ / "out";
  const CliRun r = run_cli("run thumbnail --out " + out.string() + " --results - " + (dir_ / "in").string() + " " +
                           (dir_ / "missing.jpg").string());
  EXPECT_EQ(r.status, 1) << r.err;  // some tasks failed
  const auto results = lines(r.out);
  ASSERT_EQ(results.size(), 7u) << r.out;
  std::map<std::string, json> by_name;
  for (const json& j : results) by_name[fs::path(j["input"].get<std::string>()).filename().string()] = j;
  auto expect_thumb = [&](const std::string& name, const std::string& thumb, int w, int h) {
    const json& j = by_name[name];
    ASSERT_EQ(j["status"], "ok") << j.dump();
    EXPECT_EQ(j["output"]["width"], w);
    EXPECT_EQ(j["output"]["height"], h);
    Magick::Image img;
    img.read((out / thumb).string());
    EXPECT_EQ(img.columns(), static_cast<size_t>(w));
    EXPECT_EQ(img.rows(), static_cast<size_t>(h));
    EXPECT_EQ(j["attempts"], 1);  // nothing crashed: each ran once
    EXPECT_TRUE(j.contains("run_ms") && j.contains("wait_ms") && j.contains("cpu_ms") && j.contains("max_rss_kb"));
  };
  expect_thumb("wide.jpg", "wide_thumbnail.jpg", 128, 80);
  expect_thumb("tall.png", "tall_thumbnail.png", 43, 128);
  expect_thumb("small.jpg", "small_thumbnail.jpg", 100, 50);  // never enlarged
  for (const char* bad : {"truncated.jpg", "notes.jpg", "empty.jpg", "missing.jpg"}) {
    const json& j = by_name[bad];
    EXPECT_EQ(j["status"], "error") << bad << ": " << j.dump();
    EXPECT_NE(j["error"].get<std::string>().find(bad), std::string::npos) << j.dump();
  }
  EXPECT_NE(by_name["missing.jpg"]["error"].get<std::string>().find("no such file"), std::string::npos);
  // Nothing half-written or temporary is left behind, and nothing for the failures.
  std::set<std::string> written;
  for (const auto& e : fs::directory_iterator(out)) written.insert(e.path().filename().string());
  EXPECT_EQ(written, (std::set<std::string>{"wide_thumbnail.jpg", "tall_thumbnail.png", "small_thumbnail.jpg"}));
  EXPECT_NE(r.err.find("3 ok"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("4 error"), std::string::npos) << r.err;
}

TEST_F(Photos, ThumbnailsBesideTheSourcesNeverReplacedUnlessAsked) {
  fs::remove(dir_ / "in/truncated.jpg");
  fs::remove(dir_ / "in/notes.jpg");
  fs::remove(dir_ / "in/empty.jpg");
  const CliRun first = run_cli("run thumbnail --size 64x64 --results - " + (dir_ / "in").string());
  EXPECT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(lines(first.out).size(), 3u);
  ASSERT_TRUE(fs::exists(dir_ / "in/wide_thumbnail.jpg"));
  std::ofstream(dir_ / "in/wide_thumbnail.jpg", std::ios::trunc) << "mine";  // a file the user changed
  // Again: its own thumbnails are not inputs, and the existing ones are left alone.
  CliRun second = run_cli("run thumbnail --size 64x64 --results - " + (dir_ / "in").string());
  EXPECT_EQ(second.status, 1) << second.err;
  const auto results = lines(second.out);
  ASSERT_EQ(results.size(), 3u);
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "error") << j.dump();
    EXPECT_NE(j["error"].get<std::string>().find("_thumbnail."), std::string::npos);
    EXPECT_NE(j["error"].get<std::string>().find(" exists (--overwrite replaces it)"), std::string::npos) << j.dump();
  }
  EXPECT_EQ(procpool::testing::read_file((dir_ / "in/wide_thumbnail.jpg").string()), "mine");
  const CliRun third = run_cli("run thumbnail --size 64x64 --overwrite --results - " + (dir_ / "in").string());
  EXPECT_EQ(third.status, 0) << third.err;
  EXPECT_NE(procpool::testing::read_file((dir_ / "in/wide_thumbnail.jpg").string()), "mine");
}

// Hostile paths: an input named through "..", two inputs whose thumbnails would have the
// same name, and a symlink planted where a thumbnail goes, pointing outside the output
// folder. Nothing is written outside it, nothing existing is replaced unless asked, and
// a planted symlink is replaced (never followed) when it is.
TEST_F(Photos, OutputsStayInTheirFolderAndNeverClobber) {
  const fs::path out = dir_ / "out";
  fs::create_directories(out);
  fs::create_directories(dir_ / "other");
  fs::copy_file(dir_ / "in/small.jpg", dir_ / "other/wide.jpg");
  std::ofstream(dir_ / "precious.jpg") << "outside the output folder";
  fs::create_symlink(dir_ / "precious.jpg", out / "tall_thumbnail.png");
  const std::string dotted = (dir_ / "in" / ".." / "in" / "wide.jpg").string();
  CliRun r = run_cli("run thumbnail -j 1 --results - --out " + out.string() + " " + dotted + " " +
                     (dir_ / "other/wide.jpg").string() + " " + (dir_ / "in/tall.png").string());
  EXPECT_EQ(r.status, 1) << r.err;
  std::map<std::string, json> by_input;
  for (const json& j : lines(r.out)) by_input[j["input"].get<std::string>()] = j;
  ASSERT_EQ(by_input.size(), 3u) << r.out;
  EXPECT_EQ(by_input[dotted]["status"], "ok");
  EXPECT_EQ(by_input[dotted]["output"]["path"], (out / "wide_thumbnail.jpg").string());
  const json& twin = by_input[(dir_ / "other/wide.jpg").string()];  // same name, second
  EXPECT_EQ(twin["status"], "error");
  EXPECT_NE(twin["error"].get<std::string>().find("wide_thumbnail.jpg exists"), std::string::npos) << twin.dump();
  EXPECT_EQ(by_input[(dir_ / "in/tall.png").string()]["status"], "error");
  EXPECT_EQ(procpool::testing::read_file((dir_ / "precious.jpg").string()), "outside the output folder");
  EXPECT_TRUE(fs::is_symlink(out / "tall_thumbnail.png"));
  r = run_cli("run thumbnail --overwrite --results - --out " + out.string() + " " + (dir_ / "in/tall.png").string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::is_symlink(out / "tall_thumbnail.png"));
  EXPECT_EQ(procpool::testing::read_file((dir_ / "precious.jpg").string()), "outside the output folder");
  std::set<std::string> written;  // no temporaries left, nothing else
  for (const auto& e : fs::directory_iterator(out)) written.insert(e.path().filename().string());
  EXPECT_EQ(written, (std::set<std::string>{"wide_thumbnail.jpg", "tall_thumbnail.png"}));
  std::set<std::string> outside;
  for (const auto& e : fs::directory_iterator(dir_)) outside.insert(e.path().filename().string());
  EXPECT_EQ(outside, (std::set<std::string>{"in", "other", "out", "full.jpg", "precious.jpg"}));
}

TEST(Cli, UsageErrorsExitWithStatus2AndSayWhatIsWrong) {
  CliRun r = run_cli("run no-such-kind x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown task kind 'no-such-kind'"), std::string::npos) << r.err;
  r = run_cli("run thumbnail --size banana x.jpg");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("thumbnail option 'size' must be WIDTHxHEIGHT"), std::string::npos) << r.err;
  r = run_cli("run noop");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no inputs"), std::string::npos) << r.err;
  r = run_cli("run noop -j 0 x");
  EXPECT_EQ(r.status, 2);
  r = run_cli("run noop --input-file /nonexistent/file");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read input file"), std::string::npos) << r.err;
  r = run_cli("frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("procpool: unknown command 'frobnicate'\nCommands: "), std::string::npos) << r.err;
}

// As git and cargo: a typo gets the nearest command or kind; an option before any command
// and no command at all are said as such, not "A subcommand is required".
TEST(Cli, MistypedCommandsAndKindsGetTheNearestName) {
  CliRun r = run_cli("runn noop x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'runn'; did you mean 'run'?"), std::string::npos) << r.err;
  r = run_cli("stauts");
  EXPECT_NE(r.err.find("did you mean 'status'?"), std::string::npos) << r.err;
  r = run_cli("s");  // serve, status, submit: no guess
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
  r = run_cli("--bogus");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;
  r = run_cli("");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("procpool: a command is required"), std::string::npos) << r.err;
  r = run_cli("-V");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("procpool 0."), std::string::npos) << r.out;
  r = run_cli("run thumbnial x.jpg");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown task kind 'thumbnial'; did you mean 'thumbnail'?"), std::string::npos) << r.err;
}

// One style for every usage error, CLI11's own included: "procpool SUB: WHAT", then where
// help is, exit 2; near misses of a flag get the nearest one.
TEST(Cli, ParseErrorsReadAsEveryOtherUsageError) {
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {"run sleep --workrs 2 1", "procpool run: unknown option '--workrs'; did you mean '--workers'?\n"},
      {"run sleep 1 -x", "procpool run: unknown option '-x'\n"},
      {"run", "procpool run: KIND is required\n"},
      {"run sleep -j 0 1", "procpool run: --workers must be an integer from 1 to 1024, not '0'\n"},
      {"run sleep --reconnect-for -1 1", "procpool run: --reconnect-for must be a number from 0 to 86400, not '-1'\n"},
      {"run sleep 1 --results", "procpool run: --results needs a value\n"},
      {"run sleep -j1 -j2 1", "procpool run: --workers was given 2 times; give it once\n"},
      {"timeline r.jsonl", "procpool timeline: --output is required\n"},
      {"status --jsn", "procpool status: unknown option '--jsn'; did you mean '--json'?\n"},
      {"check-config a.toml b.toml", "procpool check-config: unexpected argument 'b.toml'\n"},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    const std::string command = c.args.substr(0, c.args.find(' '));
    EXPECT_EQ(r.err, c.message + "Run 'procpool " + command + " --help' for usage.\n") << c.args;
  }
}

// As xargs: inputs given that hold nothing are a run of nothing, exit 0 (a cron job with
// nothing to do succeeds); giving no inputs at all stays a usage error (above).
TEST(Cli, AnEmptyInputIsASuccessfulRunOfNothing) {
  const auto dir = procpool::testing::fresh_test_dir("cli-empty");
  const std::string results = (dir / "r.jsonl").string();
  std::ofstream(results) << "an older run's line\n";
  for (const char* input : {"", "\n", "\n\r\n"}) {
    const CliRun r = run_cli("run noop --results " + results + " --input-file -", input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;
    EXPECT_EQ(procpool::testing::read_file(results), "") << "this run's results: none";
  }
  std::ofstream(dir / "empty.txt").close();
  EXPECT_EQ(run_cli("run noop --input-file " + (dir / "empty.txt").string()).status, 0);
  // A closed stdin is a reason, said.
  const std::string cmd = std::string(PROCPOOL_EXE) + " run noop --input-file - <&- 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 512> buf{};
  for (std::size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  const int raw = pclose(p);
  EXPECT_EQ(WEXITSTATUS(raw), 2) << out;
  EXPECT_NE(out.find("cannot read inputs from stdin: it is closed"), std::string::npos) << out;
}

TEST(Cli, HelpDocumentsTheOptions) {
  CliRun r = run_cli("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("run"), std::string::npos);
  r = run_cli("run --help");
  EXPECT_EQ(r.status, 0);
  for (const char* opt : {"--workers", "--input-file", "--results", "--size", "--out", "thumbnail", "sleep", "noop"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

namespace {
// Columns a line of UTF-8 text takes.
std::size_t columns(const std::string& line) {
  std::size_t n = 0;
  for (const char c : line) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}
std::size_t widest_line(const std::string& text) {
  std::istringstream in(text);
  std::size_t widest = 0;
  for (std::string line; std::getline(in, line);) widest = std::max(widest, columns(line));
  return widest;
}
}  // namespace

// As a man page reads: within 80 columns (or $COLUMNS), in sections, every value with a
// placeholder that says what goes there, no type names or CLI11 markup.
TEST(Cli, HelpReadsLikeAManPageWithinTheTerminalsWidth) {
  unsetenv("COLUMNS");
  for (const char* command : {"", "run", "run thumbnail", "submit", "serve", "status", "timeline", "check-config"}) {
    const CliRun r = run_cli(std::string(command) + " --help");
    ASSERT_EQ(r.status, 0) << command;
    EXPECT_LE(widest_line(r.out), 80u) << command << "\n" << r.out;
    EXPECT_EQ(r.out.rfind("Usage: procpool", 0), 0u) << r.out;
    for (const char* markup : {" TEXT", "UINT", "FLOAT", "{false}", "REQUIRED", " in [1 - ", "=default", "N ...", "TEXT ..."})
      EXPECT_EQ(r.out.find(markup), std::string::npos) << command << ": " << markup;
    // Every flag's value has a name saying what goes there, not the catch-all.
    for (std::size_t at = r.out.find(" VALUE"); at != std::string::npos; at = r.out.find(" VALUE", at + 1)) {
      const std::size_t word = r.out.rfind(' ', at - 1);
      EXPECT_NE(r.out.compare(word + 1, 2, "--"), 0) << command << ": " << r.out.substr(word + 1, at + 6 - word);
    }
  }
  const CliRun run = run_cli("run --help");
  std::size_t at = 0;
  for (const char* section : {"\nArguments:\n", "\nInput:\n", "\nPool:\n", "\nLimits:\n", "\nOutput:\n",
                              "\nRedis queue:\n", "\nTask kinds:\n", "\nthumbnail options:\n", "\ndownload options:\n"}) {
    const std::size_t found = run.out.find(section, at);
    EXPECT_NE(found, std::string::npos) << section << " (in this order)\n" << run.out;
    if (found != std::string::npos) at = found;
  }
  for (const char* entry : {"  -j, --workers N ", "      --timeout SECONDS|N% ", "      --max-memory-per-child SIZE\n",
                            "      --out DIR ", "      --quality N ", "(default: 75)", "      --results FILE "})
    EXPECT_NE(run.out.find(entry), std::string::npos) << entry << "\n" << run.out;
  // A kind's help holds its own options only.
  const CliRun thumbnail = run_cli("run thumbnail --help");
  EXPECT_NE(thumbnail.out.find("\nthumbnail options:\n"), std::string::npos);
  EXPECT_EQ(thumbnail.out.find("\ndownload options:\n"), std::string::npos);
  // $COLUMNS is the width when set.
  setenv("COLUMNS", "120", 1);
  const CliRun wide = run_cli("run --help");
  unsetenv("COLUMNS");
  EXPECT_LE(widest_line(wide.out), 120u);
  EXPECT_GT(widest_line(wide.out), 80u);
}

TEST(Cli, InputsFromStdinAndExitStatusForFailures) {
  const CliRun r = run_cli("run sleep -j 2 --results - --input-file -", "1\n2\n\nxyz\r\n3\n");
  const auto results = lines(r.out);
  ASSERT_EQ(results.size(), 4u) << r.out << r.err;  // the empty line is not a task
  int errors = 0;
  for (const json& j : results) errors += j["status"] == "error";
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(r.status, 1);
}

TEST(Cli, AnIdlePoolUsesAlmostNoCpu) {
  // Two workers and one sleep task: one worker and the supervisor have nothing to do. The
  // CPU of a 1.5 s run minus that of a 0.1 s run is what 1.4 s of idling cost (start-up
  // and exit, slower under sanitizers and load, cancel out).
  auto cpu_of = [](const std::string& args) {
    rusage before{}, after{};
    getrusage(RUSAGE_CHILDREN, &before);
    const CliRun r = run_cli(args);
    getrusage(RUSAGE_CHILDREN, &after);
    EXPECT_EQ(r.status, 0) << r.err;
    auto secs = [](const rusage& u) {
      return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    return secs(after) - secs(before);
  };
  const double short_run = cpu_of("run sleep -j 2 100");
  const double long_run = cpu_of("run sleep -j 2 1500");
  // Spinning through the 1.4 s would cost over a second of CPU.
  EXPECT_LT(long_run - short_run, 0.15) << "CPU seconds: " << long_run << " for 1.5 s, " << short_run << " for 0.1 s";
}

TEST(Cli, AProgressBarOnATerminalAndNoneOtherwise) {
  // Not a terminal: no progress bar in stderr.
  const CliRun plain = run_cli("run sleep -j 2 150 150 150 150");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.err.find("ETA"), std::string::npos) << plain.err;
  // A pseudo-terminal (util-linux script): the bar is drawn and then cleared.
  const std::string cmd = std::string("script -qec '") + PROCPOOL_EXE + " run sleep -j 2 150 150 150 150' /dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_NE(out.find("/4 "), std::string::npos) << out;
  EXPECT_NE(out.find("4 of 4 tasks"), std::string::npos) << out;
}

TEST(Cli, SumSquaresSplitsTheRangeAndPrintsTheExactTotal) {
  const CliRun r = run_cli("run sum-squares --n 100000000 -j 2");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "333333328333333350000000\n");
  EXPECT_NE(r.err.find("16 of 16 tasks"), std::string::npos) << r.err;  // 8 per worker
  EXPECT_EQ(run_cli("run sum-squares --n 1000 --chunks 3").out, "332833500\n");
  EXPECT_EQ(run_cli("run noop --n 10 x").status, 2);
}

TEST(Cli, WordcountMergesBooksAndReportsBadOnes) {
  const fs::path dir = fs::temp_directory_path() / ("procpool-books-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.txt") << "It was the best of times, it was the worst of times.";
  std::ofstream(dir / "b.txt") << "The times they are a-changin'.";
  std::ofstream(dir / "latin1.txt") << "caf\xe9";
  const CliRun r = run_cli("run wordcount --top 3 --results " + (dir / "r.jsonl").string() + " " + (dir / "a.txt").string() +
                           " " + (dir / "b.txt").string() + " " + (dir / "latin1.txt").string() + " " +
                           (dir / "missing.txt").string());
  EXPECT_EQ(r.status, 1) << r.err;  // two inputs failed
  EXPECT_EQ(r.out, "18 words, 11 distinct\n3 the\n3 times\n2 it\n");
  EXPECT_NE(r.err.find("2 ok, 2 error"), std::string::npos) << r.err;
  const std::string results = procpool::testing::read_file((dir / "r.jsonl").string());
  EXPECT_NE(results.find("not UTF-8 text"), std::string::npos);
  EXPECT_NE(results.find("no such file"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Cli, ExecRunsACommandPerInputWithReplacements) {
  CliRun r = run_cli("run exec --results - photos/cat.tar.gz -- echo {} {.} {/} {/.} {//}");
  ASSERT_EQ(r.status, 0) << r.err;
  auto results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["output"]["stdout"], "photos/cat.tar.gz photos/cat.tar cat.tar.gz cat.tar photos\n");
  EXPECT_EQ(results[0]["output"]["exit"], 0);
  // No {}: the input is appended, as GNU parallel does.
  r = run_cli("run exec --results - x y -- echo got");
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> outs;
  for (const json& j : lines(r.out)) outs.insert(j["output"]["stdout"].get<std::string>());
  EXPECT_EQ(outs, (std::set<std::string>{"got x\n", "got y\n"}));
}

TEST(Cli, ExecFailuresAreErrorsWithTheirCause) {
  CliRun r = run_cli("run exec --results - a -- sh -c 'echo oops >&2; exit 3'");
  EXPECT_EQ(r.status, 1);
  auto results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["status"], "error");
  EXPECT_EQ(results[0]["error"], "sh exited with status 3: oops\n");
  EXPECT_EQ(results[0]["exit_code"], 3);
  EXPECT_FALSE(results[0].contains("signal")) << results[0];
  r = run_cli("run exec --results - a -- no-such-command-anywhere {}");
  results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["error"], "cannot run 'no-such-command-anywhere': No such file or directory");
  EXPECT_EQ(results[0]["exit_code"], 127);
  r = run_cli("run exec --results - a -- sh -c 'kill -SEGV $$'");
  results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["status"], "crashed") << results[0];  // the command crashed, not its worker
  EXPECT_EQ(results[0]["error"], "sh killed by SIGSEGV");
  EXPECT_EQ(results[0]["signal"], "SIGSEGV");
  EXPECT_FALSE(results[0].contains("exit_code")) << results[0];
  r = run_cli("run exec --results - a -- true");
  results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["exit_code"], 0) << results[0];
  r = run_cli("run exec a b");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("exec needs a command"), std::string::npos) << r.err;
}

// What a command prints is kept in its result up to max-output-kb (64 KiB) of each
// stream, the rest read and dropped (the command never blocks on a full pipe), and the
// result says so.
TEST(Cli, ExecOutputIsCappedAt64KiBAndSaysSo) {
  CliRun r = run_cli("run exec --results - a -- " + std::string(TEST_PYTHON) +
                     " -c 'import sys; sys.stdout.write(\"o\" * 200000); sys.stderr.write(\"e\" * 70000)'");
  ASSERT_EQ(r.status, 0) << r.err;
  auto results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  const json& out = results[0]["output"];
  EXPECT_EQ(out["stdout"], std::string(64 * 1024, 'o'));
  EXPECT_EQ(out["stderr"], std::string(64 * 1024, 'e'));
  EXPECT_EQ(out["stdout_truncated"], true);
  EXPECT_EQ(out["stderr_truncated"], true);
  // Under the cap: whole, and no flag.
  r = run_cli("run exec --results - --max-output-kb 1 a -- " + std::string(TEST_PYTHON) +
              " -c 'print(\"x\" * 1000)'");
  ASSERT_EQ(r.status, 0) << r.err;
  results = lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["output"]["stdout"], std::string(1000, 'x') + "\n");
  EXPECT_FALSE(results[0]["output"].contains("stdout_truncated")) << results[0];
  EXPECT_FALSE(results[0]["output"].contains("stderr_truncated")) << results[0];
}

namespace {

// A GIF of `frames` copies of gif's one image: the prefix (header, screen descriptor,
// global colour table), then per frame a graphic control extension and the image block,
// then the trailer. Each frame is a few kB of LZW; decoded, each is the whole canvas.
std::string animate(const std::string& gif, int frames) {
  std::size_t pos = 13;
  if ((static_cast<unsigned char>(gif[10]) & 0x80) != 0) pos += 3u << ((gif[10] & 7) + 1);
  const std::string prefix = gif.substr(0, pos);
  std::string image;
  while (pos < gif.size() && gif[pos] != ';') {
    const std::size_t start = pos;
    if (gif[pos] == '!') {
      pos += 2;  // an extension: introducer, label, then sub-blocks
    } else {
      pos += 10;  // image descriptor
      if ((static_cast<unsigned char>(gif[pos - 1]) & 0x80) != 0) pos += 3u << ((gif[pos - 1] & 7) + 1);
      ++pos;  // LZW minimum code size
    }
    while (pos < gif.size() && gif[pos] != 0) pos += 1 + static_cast<unsigned char>(gif[pos]);
    ++pos;
    if (gif[start] == ',') image = gif.substr(start, pos - start);
  }
  std::string out = prefix;
  out += std::string("!\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00", 19);  // loop forever
  for (int i = 0; i < frames; ++i) out += std::string("!\xF9\x04\x00\x01\x00\x00\x00", 8) + image;
  return out + ";";
}

}  // namespace

// A huge animation: 400 frames of 2000x2000, 16 GB of pixels if every frame were decoded.
// The thumbnail is of the first frame, as Pillow's is, in bounded time and memory.
TEST(Cli, AHugeAnimatedGifIsThumbnailedFromItsFirstFrameOnly) {
  const fs::path dir = procpool::testing::fresh_test_dir("anim");
  Magick::InitializeMagick(nullptr);
  Magick::Image frame(Magick::Geometry(2000, 2000), Magick::Color("orange"));
  frame.magick("GIF");
  Magick::Blob blob;
  frame.write(&blob);
  const std::string gif = animate(std::string(static_cast<const char*>(blob.data()), blob.length()), 400);
  std::ofstream(dir / "anim.gif", std::ios::binary) << gif;
  Magick::Image check;
  check.ping((dir / "anim.gif").string());  // a valid GIF, as a reader sees it
  ASSERT_EQ(check.columns(), 2000u);
  const auto t0 = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run thumbnail --results - --out " + (dir / "out").string() + " " + (dir / "anim.gif").string());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const json j = lines(r.out).at(0);
  EXPECT_EQ(j["output"]["width"], 128);
  EXPECT_LT(j["max_rss_kb"].get<uint64_t>(), 400u * 1024) << j.dump();  // one frame, not 400
  Magick::Image thumb;
  thumb.read((dir / "out/anim_thumbnail.gif").string());
  EXPECT_EQ(thumb.columns(), 128u);
  fs::remove_all(dir);
}

// Images whose ICC profile lies: it claims 4 GB and 2 billion tags whose offsets point
// past its end, in a JPEG, a PNG, a WebP and a TIFF. Each gets its thumbnail quickly,
// without the profile (thumbnails carry none).
TEST(Cli, ImagesWithAMaliciousIccProfileAreThumbnailedWithoutIt) {
  const fs::path dir = procpool::testing::fresh_test_dir("icc");
  const std::string script = R"(
import struct, sys
from PIL import Image
icc = bytearray(128)
struct.pack_into('>I', icc, 0, 0xFFFFFFF0)
icc[12:16] = b'mntr'; icc[16:20] = b'RGB '; icc[20:24] = b'XYZ '; icc[36:40] = b'acsp'
icc += struct.pack('>I', 0x7FFFFFFF)
for sig in (b'rXYZ', b'gXYZ', b'wtpt', b'rTRC'):
    icc += sig + struct.pack('>II', 0xFFFFFF00, 0xFFFFFFFF)
im = Image.new('RGB', (800, 600), (10, 120, 200))
for ext in ('jpg', 'png', 'webp', 'tif'):
    im.save(sys.argv[1] + '/evil.' + ext, icc_profile=bytes(icc))
)";
  std::ofstream(dir / "make.py") << script;
  ASSERT_EQ(std::system((std::string(TEST_PYTHON) + " " + (dir / "make.py").string() + " " + dir.string()).c_str()), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run thumbnail --results - --out " + (dir / "out").string() + " " + dir.string());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(r.status, 0) << r.err << r.out;
  const auto results = lines(r.out);
  ASSERT_EQ(results.size(), 4u) << r.out;
  for (const json& j : results) {
    ASSERT_EQ(j["status"], "ok") << j.dump();
    Magick::Image thumb;
    thumb.read(j["output"]["path"].get<std::string>());
    EXPECT_EQ(thumb.columns(), 128u);
    EXPECT_EQ(thumb.iccColorProfile().length(), 0u) << j["input"];
  }
  fs::remove_all(dir);
}

// Decompression bombs: a PNG that declares 50000x50000 (7.5 GB of pixels from 177 bytes)
// and a JPEG whose header claims 60000x60000 end as errors, quickly, with little memory.
TEST(Cli, ImagesOverTheSizeLimitsAreRefusedQuickly) {
  const fs::path dir = fs::temp_directory_path() / ("procpool-bombs-" + std::to_string(getpid()));
  fs::create_directories(dir);
  static const unsigned char kBombPng[] = {137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 195, 80, 0, 0, 195, 80, 8, 2, 0, 0, 0, 196, 205, 170, 157, 0, 0, 0, 120, 73, 68, 65, 84, 120, 218, 237, 193, 49, 1, 0, 0, 0, 194, 160, 245, 79, 109, 13, 15, 160, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 87, 3, 134, 175, 0, 1, 26, 147, 13, 219, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130};
  std::ofstream(dir / "bomb.png", std::ios::binary).write(reinterpret_cast<const char*>(kBombPng), sizeof kBombPng);
  // A real JPEG whose SOF0 dimensions are patched to 60000x60000.
  Magick::InitializeMagick(nullptr);
  Magick::Image small(Magick::Geometry(64, 48), Magick::Color("red"));
  small.magick("JPEG");
  Magick::Blob blob;
  small.write(&blob);
  std::string jpeg(static_cast<const char*>(blob.data()), blob.length());
  const auto sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = '\xEA'; jpeg[sof + 6] = '\x60';  // height 60000
  jpeg[sof + 7] = '\xEA'; jpeg[sof + 8] = '\x60';  // width 60000
  std::ofstream(dir / "huge.jpg", std::ios::binary) << jpeg;
  const auto t0 = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run thumbnail --results - --out " + (dir / "out").string() + " " + (dir / "bomb.png").string() +
                           " " + (dir / "huge.jpg").string());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(r.status, 1) << r.err;
  const auto results = lines(r.out);
  ASSERT_EQ(results.size(), 2u) << r.out;
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "error") << j;
    EXPECT_TRUE(j.contains("error"));
  }
  std::string errors;
  for (const json& j : results) errors += j["error"].get<std::string>() + "\n";
  EXPECT_NE(errors.find("60000x60000 is over the limit"), std::string::npos) << errors;
  EXPECT_NE(errors.find("bomb.png: cannot read image: corrupt, unsupported, or over the limit"), std::string::npos)
      << errors;
  EXPECT_FALSE(fs::exists(dir / "out" / "bomb_thumbnail.png"));
  fs::remove_all(dir);
}
