// The checksum kind through the binary, against coreutils' own sha256sum and b2sum on
// real files, a folder tree and a loopback server's bodies, with memory bounded on a
// file far larger than any buffer.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

#include "tests/http_server.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::LoopbackHttpServer;
using procpool::testing::run_cli;

namespace {

// What a shell command prints on stdout.
std::string shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

class Checksum : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = procpool::testing::fresh_test_dir("checksum");
    tree_ = dir_ / "tree";
    fs::create_directories(tree_ / "sub" / "deeper");
    std::ofstream(tree_ / "a.txt") << "hello\n";
    std::ofstream(tree_ / "empty");
    std::ofstream(tree_ / "with space.bin") << std::string(3'000'000, 'x');  // several pieces
    std::ofstream(tree_ / "back\\slash") << "escaped by sha256sum";
    std::ofstream(tree_ / "sub" / "deeper" / "b.dat") << "nested";
    fs::create_symlink(tree_ / "a.txt", tree_ / "link-to-a");  // not a regular file: left out
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, tree_;
};

}  // namespace

TEST_F(Checksum, AFoldersFilesAsSha256sumAndB2sumPrintThem) {
  const std::string files = "cd " + dir_.string() + " && find tree -type f | sort | tr '\\n' '\\0' | xargs -0 ";
  for (const auto& [algorithm, tool] : {std::pair{"sha256", "sha256sum"}, std::pair{"blake2b", "b2sum"}}) {
    const std::string ours = shell("cd " + dir_.string() + " && " + PROCPOOL_EXE + " run checksum -j 2 --no-summary "
                                   "--algorithm " + algorithm + " tree");
    const std::string theirs = shell(files + tool);
    EXPECT_EQ(sorted_lines(ours), sorted_lines(theirs)) << algorithm;
    EXPECT_EQ(sorted_lines(ours).size(), 5u) << ours;  // the symlink is not followed
    // What procpool prints is a file the tool itself checks.
    std::ofstream(dir_ / "SUMS") << ours;
    EXPECT_EQ(shell("cd " + dir_.string() + " && " + tool + " -c --quiet SUMS >/dev/null 2>&1; echo $?"), "0\n");
  }
}

// max_rss_kb is the worker's peak so far: with one worker, a small input first and a
// large one after, the difference is what the large one added (whatever a sanitizer's
// runtime costs every process).
uint64_t growth_kb(const std::vector<nlohmann::json>& results, const std::string& small, const std::string& large) {
  uint64_t before = 0, after = 0;
  for (const auto& line : results) {
    if (line["input"] == small) before = line["max_rss_kb"].get<uint64_t>();
    if (line["input"] == large) after = line["max_rss_kb"].get<uint64_t>();
  }
  EXPECT_NE(before, 0u);
  EXPECT_GE(after, before);
  return after - before;
}

TEST_F(Checksum, AFileFarLargerThanMemoryUsesLittle) {
  const fs::path big = dir_ / "big.img";
  { std::ofstream(big).close(); }
  fs::resize_file(big, uint64_t{768} << 20);  // sparse: 768 MiB of zeros, read in full
  const std::string small = (tree_ / "a.txt").string();
  const CliRun r = run_cli("run checksum -j 1 --no-summary --results - " + small + " " + big.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& line : results) {
    if (line["input"] == big.string()) {
      EXPECT_EQ(line["output"].get<std::string>() + "\n", shell("sha256sum " + big.string()));
    }
  }
  EXPECT_LT(growth_kb(results, small, big.string()), 8u * 1024) << "the worker held more than its pieces";
}

TEST_F(Checksum, AUrlsBodyIsHashedAsItArrives) {
  LoopbackHttpServer server;
  const std::string small = server.url("/files/small.bin?size=1000");
  const std::string url = server.url("/huge?size=50000000&chunked=1");
  const CliRun r = run_cli("run checksum -j 1 --no-summary --results - '" + small + "' '" + url + "' '" +
                           server.url("/status/404") + "'");
  EXPECT_EQ(r.status, 1) << r.err;  // the 404 is an error
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_LT(growth_kb(results, small, url), 8u * 1024) << "the body was held in memory";
  const std::string expected = shell(std::string(TEST_PYTHON) +
                                     " -c 'import hashlib, sys, urllib.request; "
                                     "print(hashlib.sha256(urllib.request.urlopen(sys.argv[1]).read()).hexdigest())' '" +
                                     url + "'");
  for (const auto& line : results) {
    if (line["input"] == url) {
      EXPECT_EQ(line["status"], "ok");
      EXPECT_EQ(line["output"].get<std::string>(), expected.substr(0, 64) + "  " + url);
    } else if (line["input"] != small) {
      EXPECT_EQ(line["status"], "error");
      EXPECT_NE(line["error"].get<std::string>().find("HTTP 404"), std::string::npos) << line.dump();
    }
  }
}

TEST_F(Checksum, BadInputsAndOptionsSayWhatIsWrong) {
  CliRun r = run_cli("run checksum --algorithm md5 " + (tree_ / "a.txt").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("checksum option 'algorithm' must be one of sha256, blake2b, not 'md5'"), std::string::npos)
      << r.err;
  r = run_cli("run checksum --no-summary --results - " + (dir_ / "missing").string());
  EXPECT_EQ(r.status, 1);
  ASSERT_EQ(json_lines(r.out).size(), 1u);
  EXPECT_NE(json_lines(r.out)[0]["error"].get<std::string>().find("No such file or directory"), std::string::npos);
  r = run_cli("run checksum --max-size 1K --no-summary --results - '" + (tree_ / "with space.bin").string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("over the limit of 1024 bytes"), std::string::npos) << r.out;
}
