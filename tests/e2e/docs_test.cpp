// The man pages and shell completions the build makes (procpool generate-docs): they
// render without warnings, say what --help says, and the completions load in bash, zsh
// and fish and complete commands, kinds, a kind's own options and a flag's values.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using procpool::testing::CliRun;
using procpool::testing::run_cli;

namespace {

const fs::path kDocs = PROCPOOL_DOCS_DIR;

struct Shell {
  int status = -1;
  std::string out;
};

// Runs a shell command line, stdout and stderr together.
Shell sh(const std::string& command) {
  Shell r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  return r;
}

std::set<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

// Every --flag a text names.
std::set<std::string> flags_in(const std::string& text) {
  std::set<std::string> out;
  const auto flag_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  for (std::size_t at = text.find("--"); at != std::string::npos; at = text.find("--", at + 2)) {
    if (at + 2 >= text.size() || text[at + 2] < 'a' || text[at + 2] > 'z') continue;
    if (at > 0 && (flag_char(text[at - 1]) || text[at - 1] == '-')) continue;  // inside a word
    std::size_t end = at + 2;
    while (end < text.size() && flag_char(text[end])) ++end;
    out.insert(text.substr(at, end - at));
  }
  return out;
}

}  // namespace

TEST(Docs, EveryManPageRendersWithoutWarningsAndSaysWhatHelpSays) {
  for (const char* command : {"", "run", "submit", "serve", "status", "timeline", "check-config"}) {
    const std::string name = std::string("procpool") + (*command != '\0' ? "-" : "") + command;
    const fs::path page = kDocs / "man" / (name + ".1");
    ASSERT_TRUE(fs::exists(page)) << page;
    const Shell warnings = sh("LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l " + page.string() + " >/dev/null");
    EXPECT_EQ(warnings.status, 0) << name;
    EXPECT_EQ(warnings.out, "") << name;
    const Shell text = sh("LC_ALL=C.UTF-8 MANWIDTH=200 man -l " + page.string());
    ASSERT_EQ(text.status, 0);
    EXPECT_NE(text.out.find("NAME"), std::string::npos);
    EXPECT_NE(text.out.find("SYNOPSIS"), std::string::npos);
    if (*command == '\0') {
      for (const char* sub : {"run", "submit", "serve", "status", "timeline", "check-config"})
        EXPECT_NE(text.out.find(std::string("procpool-") + sub + "(1)"), std::string::npos) << sub;
      continue;
    }
    // Every flag --help shows is in the page, and the page has none --help lacks.
    const CliRun help = run_cli(std::string(command) + " --help");
    ASSERT_EQ(help.status, 0);
    const std::size_t options = text.out.find("OPTIONS"), end = text.out.find("EXIT STATUS");
    EXPECT_EQ(flags_in(text.out.substr(options, end - options)), flags_in(help.out.substr(help.out.find("\n\n"))))
        << name;
    EXPECT_NE(text.out.find("EXIT STATUS"), std::string::npos) << name;
  }
  const Shell run = sh("LC_ALL=C.UTF-8 MANWIDTH=200 man -l " + (kDocs / "man/procpool-run.1").string());
  for (const char* part : {"TASK KINDS", "KIND OPTIONS", "-j, --workers N", "--timeout SECONDS|N%", "--quality N",
                           "JPEG/WebP quality (default: 75)"})
    EXPECT_NE(run.out.find(part), std::string::npos) << part;
}

TEST(Docs, BashCompletesCommandsKindsAKindsOptionsAndValues) {
  const std::string script = (kDocs / "completion/procpool.bash").string();
  // What bash offers for the last word of a command line, sorted.
  const auto complete = [&](const std::string& line) {
    const Shell r = sh("bash --norc --noprofile -c 'source " + script +
                       "; COMP_WORDS=(" + line + "); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _procpool; "
                       "printf \"%s\\n\" \"${COMPREPLY[@]}\"'");
    EXPECT_EQ(r.status, 0) << r.out;
    return words(r.out);
  };
  EXPECT_EQ(complete("procpool su"), (std::set<std::string>{"submit"}));
  EXPECT_EQ(complete("procpool run thu"), (std::set<std::string>{"thumbnail"}));
  EXPECT_EQ(complete("procpool run -j 2 thumbnail --q"), (std::set<std::string>{"--quality", "--queue"}));
  EXPECT_EQ(complete("procpool run download --conc"), (std::set<std::string>{"--concurrency"}));
  EXPECT_EQ(complete("procpool run thumbnail --conc"), (std::set<std::string>{}));  // download's, not thumbnail's
  EXPECT_EQ(complete("procpool run --containment cg"), (std::set<std::string>{"cgroup1", "cgroup2"}));
  EXPECT_EQ(complete("procpool run checksum --algorithm \"\""), (std::set<std::string>{"sha256", "blake2b"}));
  EXPECT_EQ(complete("procpool status --j"), (std::set<std::string>{"--json"}));
  EXPECT_EQ(complete("procpool run thumbnail --out /pro"), (std::set<std::string>{"/proc"}));  // a folder
  // A flag's value is not taken for the kind.
  EXPECT_EQ(complete("procpool run --workers 2 \"\"").count("thumbnail"), 1u);
  // And it loads as bash-completion loads it, registering itself for procpool.
  const Shell loaded = sh("bash --norc --noprofile -c 'source " + script + "; complete -p procpool'");
  EXPECT_EQ(loaded.out, "complete -o filenames -F _procpool procpool\n");
}

TEST(Docs, ZshLoadsTheCompletionAndCompletesAKindsOptions) {
  const std::string dir = (kDocs / "completion").string();
  // compinit finds it on $fpath and binds it to procpool, as a vendor completion.
  const Shell bound = sh("zsh -fc 'fpath=(" + dir + " $fpath); autoload -U compinit; compinit -u -D; "
                         "print -r -- ${_comps[procpool]}'");
  EXPECT_EQ(bound.out, "_procpool\n");
  // Run as compsys runs it (words, CURRENT), with compadd and _files recording what is offered.
  const auto offered = [&](const std::string& line, int current) {
    const Shell r = sh("zsh -fc 'compadd() { shift $(( ${@[(i)--]} )); print -r -- \"$@\" }; "
                       "_files() { print -r -- FILES \"$@\" }; words=(" + line + "); CURRENT=" +
                       std::to_string(current) + "; source " + dir + "/_procpool'");
    EXPECT_EQ(r.status, 0) << r.out;
    return words(r.out);
  };
  const auto thumbnail = offered("procpool run thumbnail --q", 4);
  EXPECT_EQ(thumbnail.count("--quality"), 1u);
  EXPECT_EQ(thumbnail.count("--size"), 1u);
  EXPECT_EQ(thumbnail.count("--concurrency"), 0u);  // download's
  EXPECT_EQ(offered("procpool run -j 2 th", 5).count("thumbnail"), 1u);
  EXPECT_EQ(offered("procpool run thumbnail --out x", 5), (std::set<std::string>{"FILES", "-/"}));  // folders
  EXPECT_EQ(offered("procpool ru", 2).count("run"), 1u);
}

TEST(Docs, FishCompletesAKindsOptions) {
  const std::string script = (kDocs / "completion/procpool.fish").string();
  const Shell r = sh("fish --no-config -c 'source " + script + "; complete -C \"procpool run thumbnail --q\"'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("--quality\tJPEG/WebP quality (default: 75)"), std::string::npos) << r.out;
  const Shell kinds = sh("fish --no-config -c 'source " + script + "; complete -C \"procpool run th\"'");
  EXPECT_NE(kinds.out.find("thumbnail\t"), std::string::npos) << kinds.out;
}
