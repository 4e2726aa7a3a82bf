// GNU parallel's own test cases, translated into procpool's syntax, with the output its
// testsuite wants (testsuite/tests-to-run/parallel-local-0.3s.sh and
// testsuite/wanted-results/parallel-local-0.3s in GNU parallel's sources): par_echo_jobseq,
// par_argfile, par_dirnamereplace, par_maxproc, par_no_joblog_with_dryrun (its --dry-run
// half), par_delimiter (its NUL case), par_link_files_as_only_arg and
// par_negative_replacement (its --colsep case, {-1} written {4}). Then procpool's own
// cases of the same options: sources combined and linked, --colsep, -n, --shell's quoting,
// --dry-run, -j forms, and the mistakes they refuse; --joblog in GNU parallel's format,
// read back by GNU parallel itself (Debian's parallel, which scripts/setup installs).
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/ci_skip.hpp"
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

bool have_gnu_parallel() { return std::system("parallel --version >/dev/null 2>&1") == 0; }

// What sh -c LINE prints on stdout.
std::string run_shell(const std::string& line) {
  std::string out;
  FILE* p = popen(line.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  return out;
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

// -m and -X as GNU parallel's, and -n's {} in a word, which GNU parallel's shell splits.
// Each case is run by GNU parallel too where it is installed (with -q: the words as one
// argv, not a shell line), and both must print what is written here.
TEST(MultipleArgs, AsGnuParallelPutsThemInOneCommand) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"-k -n 2 printf '<%s>' x{}y ::: a b c d", "<xa><by><xc><dy>"},
      {"-k -X -j 1 printf '<%s>' x{}y ::: a b c d", "<xay><xby><xcy><xdy>"},
      {"-k -m -j 1 printf '<%s>' x{}y ::: a b c d", "<xa><b><c><dy>"},
      {"-k -m -j 1 printf '<%s>' ::: a b c d", "<a><b><c><d>"},
      {"-k -X -j 1 sh -c 'echo $#' sh {} ::: a b c d e", "5\n"},
      // Spread evenly over the jobs while the line has room: 10 inputs, 2 jobs, 5 each.
      {"-k -m -j 2 sh -c 'echo $#' sh ::: 1 2 3 4 5 6 7 8 9 10", "5\n5\n"},
  };
  const bool gnu = have_gnu_parallel();
  for (const auto& [args, want] : cases) {
    const std::size_t command = args.find(" printf") != std::string::npos ? args.find(" printf") : args.find(" sh ");
    const std::string flags = args.substr(0, command), rest = args.substr(command + 1);
    EXPECT_EQ(exec(flags + " -- " + rest), want) << args;
    if (gnu) {
      EXPECT_EQ(run_shell("parallel -q " + args), want) << "GNU parallel " << args;
    }
  }
  // --max-chars bounds each line: 200 inputs of 4 characters ("1000".."1199"), 100 at most.
  std::string inputs;
  for (int i = 1000; i < 1200; ++i) inputs += " " + std::to_string(i);
  const std::string lines = exec("-k -m -j 1 -s 100 -- echo :::" + inputs);
  std::istringstream split(lines);
  int count = 0, values = 0;
  for (std::string line; std::getline(split, line); ++count) {
    EXPECT_LE(line.size() + 6, 100u) << line;  // "echo " and the ending NUL are in the line too
    values += static_cast<int>(std::count(line.begin(), line.end(), ' ')) + 1;
  }
  EXPECT_EQ(values, 200);
  EXPECT_GE(count, 10);
  // -X in a --shell line repeats the word (what spaces part), each value quoted.
  EXPECT_EQ(exec("--shell -X -j 1 -- 'echo x{}y' ::: a 'b c'"), "xay xb cy\n");
  EXPECT_EQ(exec("--dry-run -X -j 1 -- convert {} pic{}.jpg ::: a b"), "convert a b pica.jpg picb.jpg\n");
}

TEST(MultipleArgs, WhatCannotBeGroupedIsAUsageError) {
  CliRun r = run_cli("run exec -m -- echo ::: a b ::: c");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("-m and -X put several inputs in one command: each must be one value"), std::string::npos)
      << r.err;
  r = run_cli("run exec -X -s 64 -- echo ::: " + std::string(80, 'v'));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("input 1 makes a command of"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("more than --max-chars 64"), std::string::npos) << r.err;
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

namespace {

std::vector<std::vector<std::string>> joblog_rows(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string f; std::getline(split, f, '\t');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace

TEST(Joblog, GnuParallelsFormatFieldByField) {
  const fs::path log = write_file("joblog", "");
  fs::remove(log);
  const CliRun r = run_cli("run exec --no-summary --joblog " + log.string() +
                           " -- sh -c 'sleep 0.$0; [ $0 != 2 ] || kill -SEGV $$; exit $0' ::: 0 3 2 1");
  EXPECT_EQ(r.status, 1) << r.err;
  const auto rows = joblog_rows(log);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval",
                                               "Signal", "Command"}));
  // "%.3f" seconds since the epoch; "% 10.3f" seconds.
  auto decimal3 = [](const std::string& text) {
    const std::size_t dot = text.find('.');
    const std::size_t first = text.find_first_not_of(' ');
    return dot != std::string::npos && first < dot && text.size() == dot + 4 &&
           text.find_first_not_of("0123456789", first) == dot &&
           text.find_first_not_of("0123456789", dot + 1) == std::string::npos;
  };
  const double now = static_cast<double>(std::time(nullptr));
  std::map<std::string, std::vector<std::string>> by_seq;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 9u) << i;
    EXPECT_EQ(rows[i][1], ":");
    EXPECT_TRUE(decimal3(rows[i][2]) && rows[i][2].size() == 14) << rows[i][2];
    EXPECT_NEAR(std::stod(rows[i][2]), now, 60);
    EXPECT_TRUE(decimal3(rows[i][3])) << rows[i][3];
    EXPECT_EQ(rows[i][3].size(), 10u) << "'% 10.3f' as GNU parallel pads it: '" << rows[i][3] << "'";
    by_seq[rows[i][0]] = rows[i];
  }
  ASSERT_EQ(by_seq.size(), 4u);
  EXPECT_EQ(by_seq["2"][6], "3");   // Exitval
  EXPECT_EQ(by_seq["3"][6], "0");
  EXPECT_EQ(by_seq["3"][7], "11");  // Signal: SIGSEGV
  EXPECT_EQ(by_seq["1"][8], "sh -c 'sleep 0.$0; [ $0 != 2 ] || kill -SEGV $$; exit $0' 0");
  EXPECT_GE(std::stod(by_seq["4"][3]), 0.1);  // it slept 0.1 s
  fs::remove(log);
}

TEST(Joblog, ResumeFromEitherToolsJoblog) {
  if (!have_gnu_parallel()) PROCPOOL_SKIP_OUTSIDE_CI("GNU parallel is not installed (scripts/setup installs it)");
  const fs::path log = write_file("resume", "");
  fs::remove(log);
  // procpool writes, GNU parallel resumes: it runs only what procpool's log lacks.
  EXPECT_EQ(run_cli("run exec --no-summary -k --joblog " + log.string() + " -- sh -c 'exit $0' ::: 0 1 0").status, 1);
  std::string out;
  {
    FILE* p = popen(("parallel -k --resume --joblog " + log.string() + " echo ran ::: 0 1 0 7 8").c_str(), "r");
    char buf[256];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
  }
  EXPECT_EQ(out, "ran 7\nran 8\n");
  // GNU parallel's lines (4, 5) and procpool's (1-3): --resume-failed reruns Seq 2 only,
  // --resume nothing of them.
  EXPECT_EQ(exec("-k --joblog " + log.string() + " --resume-failed -- echo again ::: 0 1 0 7 8 9"), "again 1\nagain 9\n");
  EXPECT_EQ(exec("-k --joblog " + log.string() + " --resume -- echo once more ::: 0 1 0 7 8 9 10"), "once more 10\n");
  // What GNU parallel makes of the whole file now: every job done.
  std::set<std::string> seqs;
  for (const auto& row : joblog_rows(log))
    if (!row.empty() && row[0] != "Seq") seqs.insert(row[0]);
  EXPECT_EQ(seqs, (std::set<std::string>{"1", "2", "3", "4", "5", "6", "7"}));
  const CliRun r = run_cli("run exec --resume-failed a -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--resume-failed needs --joblog FILE"), std::string::npos) << r.err;
  fs::remove(log);
}

TEST(Admission, DelaySpacesTheStarts) {
  const CliRun r = run_cli("run exec -j 4 --delay 0.3 --results - 1 2 3 4 -- true");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<double> starts;
  for (const auto& j : procpool::testing::json_lines(r.out)) starts.push_back(j["start_ms"].get<double>());
  ASSERT_EQ(starts.size(), 4u);
  std::sort(starts.begin(), starts.end());
  for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 290.0) << i;
}

TEST(Admission, MemfreeThatCannotBeMetSaysSoAndNeverHangs) {
  // More than the machine has: refused at once.
  CliRun r = run_cli("run exec --memfree 1024G a -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is more than this machine's memory"), std::string::npos) << r.err;
  // More than is free now: nothing starts, the wait is said, and Ctrl-C ends it.
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t total_kb = 0;
  while (meminfo >> key >> total_kb && key != "MemTotal:") meminfo.ignore(1000, '\n');
  ASSERT_GT(total_kb, 0u);
  const fs::path err = write_file("memfree-err", "");
  const std::string cmd = "timeout -s INT 3 " + std::string(PROCPOOL_EXE) + " run exec --memfree " +
                          std::to_string(total_kb / 1024 - 10) + "M --results - a b -- true >" + err.string() +
                          ".out 2>" + err.string();
  const int raw = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(raw), 124);  // timeout's word that it sent the signal
  std::ifstream e(err);
  const std::string text((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("no task starts while the MemAvailable"), std::string::npos) << text;
  EXPECT_NE(text.find("2 cancelled"), std::string::npos) << text;
  fs::remove(err);
  fs::remove(err.string() + ".out");
}

TEST(Admission, MemfreeSaysWhenATaskIsTooBigForItsReserve) {
  // --memfree leaves 512 MiB of what is available now, and the one task takes 768 MiB more
  // than the machine has beside that reserve: the run says so once, and still runs it.
  uint64_t total_kb = 0, available_kb = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    uint64_t kb = 0;
    meminfo >> kb;
    if (key == "MemTotal:") total_kb = kb;
    if (key == "MemAvailable:") available_kb = kb;
    meminfo.ignore(1000, '\n');
  }
  ASSERT_GT(available_kb, 2u << 20) << "the test needs 2 GiB available";
  const uint64_t memfree_mb = available_kb / 1024 - 512;
  const uint64_t task_mb = total_kb / 1024 - memfree_mb + 256;
  // Python's b'x' * N writes every byte, so its RSS is N.
  const CliRun r = run_cli("run exec --no-summary -j 1 --memfree " + std::to_string(memfree_mb) +
                           "M a -- python3 -c 'b = b\"x\" * (" + std::to_string(task_mb) + " << 20)'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("procpool: a task peaked at"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("that --memfree"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("while one that big runs no other task starts"), std::string::npos) << r.err;
}
