// GNU parallel's own test cases, translated into procpool's syntax, with the output its
// testsuite wants (testsuite/tests-to-run/parallel-local-0.3s.sh and
// testsuite/wanted-results/parallel-local-0.3s in GNU parallel's sources): par_echo_jobseq,
// par_argfile, par_dirnamereplace, par_maxproc, par_no_joblog_with_dryrun (its --dry-run
// half), par_delimiter (its NUL case), par_link_files_as_only_arg and
// par_negative_replacement (its --colsep case, {-1} written {4}). Then procpool's own
// cases of the same options: sources combined and linked, --colsep, -n, --shell's quoting,
// --dry-run, -j forms, and the mistakes they refuse.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using procpool::testing::CliRun;
using procpool::testing::run_cli;

namespace {

std::string exec(const std::string& args, const std::string& stdin_text = "") {
  const CliRun r = run_cli("run exec --no-summary " + args, stdin_text);
  EXPECT_EQ(r.status, 0) << args << ": " << r.err;
  return r.out;
}

fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("procpool-compat-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p;
}

std::string seq(int from, int to, const std::string& before = "") {
  std::string out;
  for (int i = from; i <= to; ++i) out += before + std::to_string(i) + "\n";
  return out;
}

}  // namespace

TEST(GnuParallelCases, EchoJobseq) {
  // parallel -k echo {#} ::: 1 2 ::: 1 2
  EXPECT_EQ(exec("-k -- echo {#} ::: 1 2 ::: 1 2"), "1\n2\n3\n4\n");
}

TEST(GnuParallelCases, Argfile) {
  // parallel -k -a FILE echo
  const fs::path f = write_file("argfile", seq(1, 10));
  EXPECT_EQ(exec("-k --input-file " + f.string() + " -- echo"), seq(1, 10));
  fs::remove(f);
}

TEST(GnuParallelCases, DirnameReplace) {
  // parallel --dnr II -k echo II {} ::: a a/b a/b/c
  EXPECT_EQ(exec("-k -- echo {//} {} ::: a a/b a/b/c"), ". a\na a/b\na/b a/b/c\n");
}

TEST(GnuParallelCases, Maxproc) {
  // seq 1 10 | parallel -k --max-procs +0 echo max proc; seq 1 10 | parallel -k -P 200% echo 200% proc
  EXPECT_EQ(exec("-k -j +0 --input-file - -- echo max proc", seq(1, 10)), seq(1, 10, "max proc "));
  EXPECT_EQ(exec("-k -j 200% --input-file - -- echo 200% proc", seq(1, 10)), seq(1, 10, "200% proc "));
}

TEST(GnuParallelCases, DryRun) {
  // parallel --dryrun --joblog - echo ::: Only_this
  EXPECT_EQ(exec("--dry-run -- echo ::: Only_this"), "echo Only_this\n");
}

TEST(GnuParallelCases, NulDelimiter) {
  // printf "delimiter NUL line 1\0line 2\0line 3" | parallel -k -d '\0' echo
  EXPECT_EQ(exec("-k -0 --input-file - -- echo", std::string("delimiter NUL line 1\0line 2\0line 3", 34)),
            "delimiter NUL line 1\nline 2\nline 3\n");
}

TEST(GnuParallelCases, LinkFilesAsOnlyArg) {
  // parallel echo :::: <(seq 3) ::::+ <(seq 3) ::::+ <(seq 3)
  const fs::path f = write_file("link", seq(1, 3));
  EXPECT_EQ(exec("-k -- echo :::: " + f.string() + " ::::+ " + f.string() + " ::::+ " + f.string()),
            "1 1 1\n2 2 2\n3 3 3\n");
  fs::remove(f);
}

TEST(GnuParallelCases, ColsepPositionalsInAShellLine) {
  // parallel --colsep ' ' echo '{2} + {4} = {2} + {-1}=' '$(( {2} + {-1} ))' ::: "1 2 3 4"
  EXPECT_EQ(exec("--shell --colsep ' ' -- echo '{2} + {4} = {2} + {4}=' '$(( {2} + {4} ))' ::: '1 2 3 4'"),
            "2 + 4 = 2 + 4= 6\n");
}

TEST(InputSources, CombinedLinkedAndAmongTheInputs) {
  EXPECT_EQ(exec("-k -- echo {2}{1} ::: a b ::: 1 2"), "1a\n2a\n1b\n2b\n");
  EXPECT_EQ(exec("-k --link -- echo ::: a b c ::: 1 2"), "a 1\nb 2\nc 1\n");  // the shorter wraps round
  EXPECT_EQ(exec("-k -- echo ::: a b :::+ 1 2 ::: x y"), "a 1 x\na 1 y\nb 2 x\nb 2 y\n");
  // Arguments before "--" are the first source; ":::" may stand there too.
  EXPECT_EQ(exec("-k a b ::: 1 2 -- echo"), "a 1\na 2\nb 1\nb 2\n");
  // {3} past the values is empty; {} is all of them.
  EXPECT_EQ(exec("-k -n 2 1 2 3 -- echo [{1}] [{2}] [{}]"), "[1] [2] [1 2]\n[3] [] [3]\n");
  EXPECT_EQ(exec("-k --colsep , --input-file - -- echo {2/} {1.}", "x.txt,dir/y\n"), "y x\n");
}

TEST(InputSources, TheShellNeverRunsAnInput) {
  const fs::path marker = fs::temp_directory_path() / ("procpool-compat-pwned-" + std::to_string(getpid()));
  // Replaced into a --shell line, an input is one quoted word, whatever it holds.
  EXPECT_EQ(exec("-k --shell -- 'echo {}' ::: '$(touch " + marker.string() + ")' \"it's; ls\""),
            "$(touch " + marker.string() + ")\nit's; ls\n");
  EXPECT_FALSE(fs::exists(marker));
  // No replacement string: the value is appended to the line, as one quoted word.
  EXPECT_EQ(exec("--shell -- 'printf \"<%s>\"' ::: 'a b'"), "<a b>");
  EXPECT_EQ(exec("--dry-run --shell -- 'wc -l {} > {.}.n' ::: 'my file.txt'"), "wc -l 'my file.txt' > 'my file'.n\n");
  EXPECT_EQ(exec("--dry-run -- printf '%s\\n' {} ::: \"a'b\" c"), "printf '%s\\n' 'a'\\''b'\nprintf '%s\\n' c\n");
}

TEST(InputSources, MistakesAreUsageErrors) {
  CliRun r = run_cli("run exec -- echo :::");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("':::' with nothing after it"), std::string::npos) << r.err;
  r = run_cli("run thumbnail ::: a.jpg ::: b.jpg");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("thumbnail takes one value per input"), std::string::npos) << r.err;
  r = run_cli("run exec -n 2 -- echo ::: a ::: b");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("-n/-N groups the inputs of one source"), std::string::npos) << r.err;
  r = run_cli("run exec --colsep '(' a -- echo");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--colsep '(' is not a regular expression"), std::string::npos) << r.err;
  r = run_cli("run exec -- echo :::: /nonexistent/inputs");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read input file /nonexistent/inputs"), std::string::npos) << r.err;
  r = run_cli("run exec -j 12x% a -- echo");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("must be N, N%, +N or -N, not '12x%'"), std::string::npos) << r.err;
}
