// procpool as a well-made Unix tool, through the real binary: the summary says why tasks
// failed, output files follow the umask, what can be checked is checked before the first
// task, its own outputs are never inputs, and at a terminal (a real pseudo-terminal) the
// bar never garbles a line and Ctrl-C is answered at once.
#include <Magick++.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/e2e/terminal.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::run_cli;

namespace {

void make_image(const fs::path& path, const std::string& size) {
  Magick::InitializeMagick(nullptr);
  Magick::Image img(Magick::Geometry(size), Magick::Color("white"));
  img.read("gradient:red-blue");
  img.resize(Magick::Geometry(size + "!"));
  img.write(path.string());
}

mode_t mode_of(const fs::path& path) {
  struct stat st{};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// Runs with the test's umask set to mask, as a user's shell would have it.
CliRun run_with_umask(mode_t mask, const std::string& args) {
  const mode_t old = umask(mask);
  CliRun r = run_cli(args);
  umask(old);
  return r;
}

}  // namespace

TEST(UnixTool, TheSummaryEndsWithTheFirstFailuresAndHowManyMore) {
  const CliRun r = run_cli("run sleep -j 2 a b c d e f g 10");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("1 ok, 7 error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\n  error task 0 (a): sleep: input must be a whole number of milliseconds"), std::string::npos)
      << r.err;
  std::size_t listed = 0;
  for (std::size_t at = 0; (at = r.err.find("\n  error task ", at)) != std::string::npos; ++at) ++listed;
  EXPECT_EQ(listed, 5u) << r.err;
  EXPECT_NE(r.err.find("\n  ... and 2 more\n"), std::string::npos) << r.err;
  // A timeout says its limit; one task and one restart are said in the singular.
  const CliRun t = run_cli("run sleep -j 2 --timeout 0.2 5000 5");
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.err.find("2 tasks in"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("(1 task"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("1 restart)"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("\n  timeout task 0 (5000): timed out after"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("(limit 0.20 s)"), std::string::npos) << t.err;
}

TEST(UnixTool, AnAnswerIsPrintedOnlyOverTasksThatWereOk) {
  const auto dir = procpool::testing::fresh_test_dir("unix-answer");
  // A path whose message names it: the summary does not repeat the input.
  CliRun r = run_cli("run wordcount " + (dir / "gone1.txt").string() + " " + (dir / "gone2.txt").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "") << "no '0 words' for books that were never read";
  EXPECT_NE(r.err.find("procpool: no task was ok: nothing to add up"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(": " + (dir / "gone1.txt").string() + ": no such file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("(" + (dir / "gone1.txt").string() + ")"), std::string::npos) << r.err;
  std::ofstream(dir / "book.txt") << "call me ishmael\n";
  r = run_cli("run wordcount " + (dir / "book.txt").string() + " " + (dir / "gone1.txt").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("3 words"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("procpool: the answer covers only the tasks that were ok: 1 of 2"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(UnixTool, OutputFilesFollowTheUmaskWhateverTheirFormat) {
  const auto dir = procpool::testing::fresh_test_dir("unix-umask");
  make_image(dir / "a.jpg", "300x200");
  make_image(dir / "b.png", "300x200");
  for (const mode_t mask : {mode_t{027}, mode_t{077}, mode_t{002}}) {
    const fs::path out = dir / ("out-" + std::to_string(mask));
    const CliRun r = run_with_umask(mask, "run thumbnail --out " + out.string() + " " + (dir / "a.jpg").string() + " " +
                                              (dir / "b.png").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(mode_of(out / "a_thumbnail.jpg"), 0666 & ~mask) << "umask " << mask;
    EXPECT_EQ(mode_of(out / "b_thumbnail.png"), 0666 & ~mask) << "umask " << mask;
  }
  // A timeline is an output too; the results stay the owner's: they are procpool's own
  // record of the run, every input and output in it.
  const CliRun r = run_with_umask(002, "run noop --results " + (dir / "r.jsonl").string() + " --timeline " +
                                           (dir / "t.svg").string() + " x");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(mode_of(dir / "r.jsonl"), 0600u);
  EXPECT_EQ(mode_of(dir / "t.svg"), 0664u);
  fs::remove_all(dir);
}

TEST(UnixTool, AnOutputFolderWithATrailingSlashGivesCleanPaths) {
  const auto dir = procpool::testing::fresh_test_dir("unix-slash");
  make_image(dir / "a.jpg", "300x200");
  const CliRun r = run_cli("run thumbnail --results - --out " + (dir / "out").string() + "// " + (dir / "a.jpg").string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = procpool::testing::json_lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["output"]["path"], (dir / "out" / "a_thumbnail.jpg").string());
  fs::remove_all(dir);
}

// `find . -name '*.jpg' | procpool run thumbnail --input-file -`, run twice, makes no
// thumbnails of thumbnails: the folder rule holds for a list of paths too, and it says so.
TEST(UnixTool, ItsOwnOutputsInAListOfInputsAreLeftOut) {
  const auto dir = procpool::testing::fresh_test_dir("unix-own");
  make_image(dir / "a.jpg", "300x200");
  make_image(dir / "b.jpg", "300x200");
  const std::string list = (dir / "a.jpg").string() + "\n" + (dir / "b.jpg").string() + "\n";
  ASSERT_EQ(run_cli("run thumbnail --input-file -", list).status, 0);
  const std::string again = list + (dir / "a_thumbnail.jpg").string() + "\n" + (dir / "b_thumbnail.jpg").string() + "\n";
  const CliRun r = run_cli("run thumbnail --overwrite --results - --input-file -", again);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(procpool::testing::json_lines(r.out).size(), 2u) << r.out;
  EXPECT_NE(r.err.find("procpool: left out 2 inputs that are thumbnail's own output (such as " +
                       (dir / "a_thumbnail.jpg").string() + ")"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "a_thumbnail_thumbnail.jpg"));
  fs::remove_all(dir);
}

// Everything checkable before the first task is checked then: a usage error (exit 2) that
// names the path, at once, with no result and no image decoded.
TEST(UnixTool, BadOutputPathsAreUsageErrorsBeforeAnyTask) {
  const auto dir = procpool::testing::fresh_test_dir("unix-early");
  make_image(dir / "a.jpg", "300x200");
  std::ofstream(dir / "a-file") << "not a folder";
  const std::string results = " --results " + (dir / "r.jsonl").string() + " ";
  auto expect_usage_error = [&](const std::string& args, const std::string& message) {
    const auto start = std::chrono::steady_clock::now();
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "found before the 3 s task, not after it";
    EXPECT_FALSE(fs::exists(dir / "r.jsonl")) << args;
  };
  expect_usage_error("run sleep" + results + "--timeline " + (dir / "no/such/t.svg").string() + " 3000",
                     "--timeline: cannot write " + (dir / "no/such/t.svg").string() + ": No such file or directory");
  expect_usage_error("run sleep" + results + "--timeline " + dir.string() + " 3000",
                     "--timeline: " + dir.string() + " is a folder, not a file");
  expect_usage_error("run thumbnail" + results + "--out " + (dir / "a-file").string() + " " + (dir / "a.jpg").string(),
                     "--out: " + (dir / "a-file").string() + " is a file, not a folder");
  // A folder that cannot take a file: the mode says so for a user, a kernel file system
  // for root (whose rights the mode does not bind).
  std::string unwritable = "/sys/kernel";
  if (geteuid() != 0) {
    fs::create_directories(dir / "locked");
    fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    unwritable = (dir / "locked").string();
  }
  expect_usage_error("run thumbnail" + results + "--out " + unwritable + " " + (dir / "a.jpg").string(),
                     "--out: cannot write in " + unwritable + ": ");
  fs::remove_all(dir);
}

// Not a real image: a message of procpool's, not ImageMagick's internals.
TEST(UnixTool, ATextFileNamedAsAnImageIsSaidPlainly) {
  const auto dir = procpool::testing::fresh_test_dir("unix-notimage");
  std::ofstream(dir / "notes.jpg") << "this is a text file\n";
  const CliRun r = run_cli("run thumbnail --results - " + (dir / "notes.jpg").string());
  EXPECT_EQ(r.status, 1);
  const auto results = procpool::testing::json_lines(r.out);
  ASSERT_EQ(results.size(), 1u) << r.out;
  const std::string error = results[0]["error"];
  EXPECT_NE(error.find((dir / "notes.jpg").string() + ": "), std::string::npos) << error;
  EXPECT_NE(error.find("not an image, or in a format not supported"), std::string::npos) << error;
  EXPECT_EQ(error.find("@ error/"), std::string::npos) << error;
  EXPECT_EQ(error.find(".c/"), std::string::npos) << error;
  fs::remove_all(dir);
}

// The README's second example at a terminal: results to stdout and the bar to stderr, both
// on the one screen. Each line of results stands on a line of its own.
TEST(UnixTool, TheBarIsErasedBeforeEachLineOnTheSameTerminal) {
  procpool::testing::Terminal term(std::string(PROCPOOL_EXE) + " run sleep -j 2 --results - 300 300 300 300 300 300");
  ASSERT_TRUE(term.started());
  EXPECT_EQ(term.wait(20s), 0) << term.raw();
  ASSERT_NE(term.raw().find("ETA"), std::string::npos) << "the bar was drawn: " << term.raw();
  int results = 0;
  for (const std::string& line : term.screen()) {
    const auto brace = line.find('{');
    if (brace == std::string::npos) {
      EXPECT_EQ(line.find("ETA"), std::string::npos) << "the bar is cleared at the end: " << line;
      continue;
    }
    EXPECT_EQ(brace, 0u) << "a result line starts its line: " << line;
    EXPECT_TRUE(json::accept(line)) << line;
    ++results;
  }
  EXPECT_EQ(results, 6) << term.raw();
}

// Ctrl-C once: it says at once what happens (queued tasks cancelled, running ones may end);
// again: it kills. Each task's result says which way it was cancelled.
TEST(UnixTool, CtrlCIsAnsweredAtOnceAndAgainKills) {
  const auto dir = procpool::testing::fresh_test_dir("unix-ctrlc");
  const fs::path results = dir / "r.jsonl";
  procpool::testing::Terminal term(std::string(PROCPOOL_EXE) + " run sleep -j 1 --results " + results.string() +
                                   " 20000 20000 20000");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.read_until("ETA", 10s)) << term.raw();
  const auto pressed = std::chrono::steady_clock::now();
  term.type("\x03");
  ASSERT_TRUE(term.read_until("(Ctrl-C again kills them now)", 5s)) << term.raw();
  EXPECT_LT(std::chrono::steady_clock::now() - pressed, 1s) << "answered at once";
  EXPECT_NE(term.raw().find("procpool: SIGINT: stopping; running tasks may finish, queued ones are cancelled"),
            std::string::npos)
      << term.raw();
  std::this_thread::sleep_for(300ms);
  term.type("\x03");
  EXPECT_EQ(term.wait(10s), 130) << term.raw();
  EXPECT_NE(term.raw().find("procpool: SIGINT again: killing the workers and what they started"), std::string::npos)
      << term.raw();
  EXPECT_LT(std::chrono::steady_clock::now() - pressed, 8s) << "the 20 s task was killed";
  const auto lines = procpool::testing::json_lines(procpool::testing::read_file(results.string()));
  ASSERT_EQ(lines.size(), 3u);
  for (const json& j : lines) {
    EXPECT_EQ(j["status"], "cancelled") << j.dump();
    if (j["id"] == 0) {
      EXPECT_EQ(j["error"], "cancelled while it ran: its worker was killed (SIGINT)") << j.dump();
      EXPECT_EQ(j["attempts"], 1) << j.dump();
      EXPECT_GE(j["run_ms"].get<double>(), 300) << j.dump();
      EXPECT_TRUE(j.contains("pid") && j.contains("worker")) << j.dump();
    } else {
      EXPECT_EQ(j["error"], "cancelled before it started (SIGINT)") << j.dump();
      EXPECT_EQ(j["attempts"], 0) << j.dump();
      EXPECT_FALSE(j.contains("pid") || j.contains("worker") || j.contains("run_ms")) << j.dump();
    }
  }
  fs::remove_all(dir);
}
