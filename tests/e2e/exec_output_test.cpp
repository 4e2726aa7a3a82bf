// exec's commands' output through the real binary, as GNU parallel users rely on it: each
// job's stdout and stderr on procpool's own, a job's together (--group), in input order
// with -k, tagged with --tag, live with --line-buffer; any size and any bytes; the part a
// killed job wrote; a reader that stops reading (| head -1); and the spool folder gone
// after each run.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::run_cli;

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A bash command line (pipes allowed) with PP standing for the procpool executable: its
// stdout, its stderr and its exit status.
CliRun shell(std::string line) {
  for (std::size_t at; (at = line.find("PP ")) != std::string::npos;) line.replace(at, 2, PROCPOOL_EXE);
  const fs::path err = fs::temp_directory_path() / ("procpool-exec-output-err-" + std::to_string(getpid()));
  const std::string cmd = "bash -c '" + [&] {
    std::string quoted;
    for (char c : line) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted;
  }() + "' 2>" + err.string();
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  std::ifstream e(err);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err);
  return r;
}

// A --tmpdir of the test's own: what is left in it after a run is what procpool leaked.
class ExecOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() / ("procpool-exec-output-" + std::to_string(getpid()));
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  CliRun run(const std::string& args) { return run_cli("run exec --no-summary --tmpdir " + tmp_.string() + " " + args); }
  std::size_t left_in_tmpdir() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(tmp_), fs::directory_iterator()));
  }
  fs::path tmp_;
};

}  // namespace

TEST_F(ExecOutput, EachJobsOutputComesWholeAndNeverInterleaved) {
  // Six jobs, three at a time, each printing 60 lines in bursts with pauses between.
  const CliRun r = run("-j 3 a b c d e f -- sh -c "
                       "'for i in $(seq 60); do echo \"$0 $i\"; [ $((i % 10)) = 0 ] && sleep 0.02; done; "
                       "echo \"$0 done\" >&2'");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 360u) << r.out;
  std::map<std::string, int> jobs_seen;
  for (std::size_t job = 0; job < 6; ++job) {
    const std::string name = lines[job * 60].substr(0, 1);
    ++jobs_seen[name];
    for (int i = 1; i <= 60; ++i) EXPECT_EQ(lines[job * 60 + i - 1], name + " " + std::to_string(i));
  }
  EXPECT_EQ(jobs_seen.size(), 6u);
  for (const char* job : {"a", "b", "c", "d", "e", "f"})
    EXPECT_NE(r.err.find(std::string(job) + " done\n"), std::string::npos) << r.err;
  EXPECT_EQ(left_in_tmpdir(), 0u);
}

TEST_F(ExecOutput, KeepOrderPrintsInInputOrderAndTagPrefixesEachLine) {
  // The first input ends last: without -k it is printed last.
  const std::string job = "-- sh -c 'sleep 0.$0; echo one $0; echo two $0'";
  CliRun r = run("-j 3 3 2 1 " + job);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "one 1\ntwo 1\none 2\ntwo 2\none 3\ntwo 3\n");
  r = run("-j 3 -k --tag 3 2 1 " + job);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "3\tone 3\n3\ttwo 3\n2\tone 2\n2\ttwo 2\n1\tone 1\n1\ttwo 1\n");
  r = run("--keep-order -j 3 3 2 1 " + job);
  EXPECT_EQ(r.out, "one 3\ntwo 3\none 2\ntwo 2\none 1\ntwo 1\n");
}

TEST_F(ExecOutput, LineBufferPrintsWholeLinesWhileTheJobRuns) {
  // The first line is out long before the job ends.
  const std::string cmd = std::string(PROCPOOL_EXE) + " run exec --no-summary --line-buffer --tmpdir " + tmp_.string() +
                          " x -- sh -c 'echo first; sleep 3; echo second'";
  const auto began = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof line, p), nullptr);
  const auto first_after = std::chrono::steady_clock::now() - began;
  EXPECT_STREQ(line, "first\n");
  EXPECT_LT(first_after, std::chrono::milliseconds(2000));
  ASSERT_NE(fgets(line, sizeof line, p), nullptr);
  EXPECT_STREQ(line, "second\n");
  EXPECT_EQ(pclose(p), 0);
  // Many long lines from jobs at once: lines of jobs may alternate, but each is whole.
  const CliRun r = run("--line-buffer --tag -j 4 a b c d -- " + std::string(TEST_PYTHON) +
                       " -c 'import sys, time\nfor i in range(300):\n  sys.stdout.write(sys.argv[1] * 3000 + chr(10))\n"
                       "  sys.stdout.flush()\n  time.sleep(0.001) if i % 50 == 0 else None' ");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 1200u);
  std::map<std::string, int> per_job;
  for (const std::string& l : lines) {
    ASSERT_GE(l.size(), 2u);
    const std::string tag = l.substr(0, 1);
    ASSERT_EQ(l, tag + "\t" + std::string(3000, tag[0])) << "a broken line of job " << tag;
    ++per_job[tag];
  }
  EXPECT_EQ(per_job, (std::map<std::string, int>{{"a", 300}, {"b", 300}, {"c", 300}, {"d", 300}}));
  EXPECT_EQ(left_in_tmpdir(), 0u);
}

TEST_F(ExecOutput, AHundredMegabytesThroughOneJobAndAnyBytes) {
  CliRun r = shell("PP run exec --no-summary --tmpdir " + tmp_.string() +
                   " x -- sh -c 'head -c 100000000 /dev/zero' | wc -c");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::stoll(r.out), 100000000LL);
  // Every byte value, NULs and invalid UTF-8 included, exactly as written.
  r = run("x -- " + std::string(TEST_PYTHON) + " -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string expected;
  for (int k = 0; k < 4096; ++k)
    for (int b = 0; b < 256; ++b) expected.push_back(static_cast<char>(b));
  EXPECT_TRUE(r.out == expected) << "got " << r.out.size() << " bytes";
  EXPECT_EQ(left_in_tmpdir(), 0u);
}

TEST_F(ExecOutput, WhatAKilledJobWroteIsPrinted) {
  // Killed by its timeout mid-job (its worker and the command with it): its output so far
  // is printed all the same, as GNU parallel prints a killed job's.
  const CliRun r = run("--timeout 1 --results " + (tmp_ / "r.jsonl").string() +
                       " x -- sh -c 'echo before; echo oops >&2; sleep 30; echo after'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "before\n");
  EXPECT_NE(r.err.find("oops\n"), std::string::npos) << r.err;
  std::ifstream in(tmp_ / "r.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(json::parse(line)["status"], "timeout");
  fs::remove(tmp_ / "r.jsonl");
  EXPECT_EQ(left_in_tmpdir(), 0u);
}

TEST_F(ExecOutput, AReaderThatStopsReadingStopsTheRunQuietly) {
  // `| head -1`: procpool ends at once as a pipeline's writer does (SIGPIPE's 141), says
  // nothing, and leaves nothing behind.
  const CliRun r = shell("seq 500 | PP run exec --tmpdir " + tmp_.string() +
                         " --input-file - -- sh -c \"seq 200000\" | head -1; exit ${PIPESTATUS[1]}");
  EXPECT_EQ(r.status, 141) << r.err;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(left_in_tmpdir(), 0u);
}

TEST_F(ExecOutput, WithResultsOnStdoutItHoldsOnlyTheResults) {
  const CliRun r = run("--results - a b -- sh -c 'echo out $0; echo err $0 >&2'");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<json> results = json_lines(r.out);  // throws on any other line
  ASSERT_EQ(results.size(), 2u);
  for (const json& j : results) {
    const std::string in = j["input"];
    EXPECT_EQ(j["output"]["stdout"], "out " + in + "\n");
    EXPECT_NE(r.err.find("err " + in + "\n"), std::string::npos) << r.err;
  }
}

TEST_F(ExecOutput, AJobOverMaxSpoolIsKilledAndSaysSo) {
  const CliRun r = run("--max-spool 1M --results - x -- sh -c 'head -c 50000000 /dev/zero; sleep 30'");
  EXPECT_EQ(r.status, 1);
  const std::vector<json> results = json_lines(r.out);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["status"], "error");
  EXPECT_NE(results[0]["error"].get<std::string>().find("more than --max-spool 1 MiB"), std::string::npos)
      << results[0];
  EXPECT_EQ(left_in_tmpdir(), 0u);
  EXPECT_NE(run("--tmpdir /nonexistent/x a -- true").err.find("cannot make a spool folder in /nonexistent/x"),
            std::string::npos);
}

TEST_F(ExecOutput, JobNumberSlotAndFolderOfABareName) {
  const CliRun r = run("-j 1 a dir/b.txt -- echo {#} {%} {//} {.} {/.}");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1 1 . a a\n2 1 dir dir/b b\n");
}
