// A kind's options end to end through the binary: a plugin kind declares three options
// and gets them from flags and from its own config section, checked with the same words
// and the same messages as the built-in kinds'.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::run_cli;

namespace {

class KindOptions : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = procpool::testing::fresh_test_dir("kind-options"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string config(const std::string& text) {
    const std::string path = (dir_ / "procpool.toml").string();
    std::ofstream(path) << "[pool]\nplugin = [\"" << OPTIONS_PLUGIN << "\"]\n\n" << text;
    return path;
  }
  // The outputs of `run label` over the inputs, in input order.
  std::vector<std::string> outputs(const std::string& args, CliRun* run = nullptr) {
    const CliRun r = run_cli("run label -j 1 --no-summary --results - " + args);
    if (run != nullptr) *run = r;
    std::vector<std::string> out;
    for (const auto& line : json_lines(r.out)) out.push_back(line.value("output", "(" + line.value("error", "?") + ")"));
    return out;
  }
  fs::path dir_;
};

}  // namespace

TEST_F(KindOptions, APluginKindsOptionsAreFlags) {
  const std::string plugin = std::string("--plugin ") + OPTIONS_PLUGIN;
  EXPECT_EQ(outputs(plugin + " --prefix '>' --times 3 ab"), (std::vector<std::string>{">ababab"}));
  EXPECT_EQ(outputs(plugin + " --shout x"), (std::vector<std::string>{"X"}));
  // `run KIND --help` lists the kind's own options with their defaults.
  const CliRun help = run_cli("run label --help " + plugin);
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("\nlabel options:\n"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("How often the input is repeated (default: 1)"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("JPEG/WebP quality"), std::string::npos) << "another kind's option in label's help";
}

TEST_F(KindOptions, ItsConfigSectionGivesDefaultsThatFlagsOverride) {
  const std::string path = config("[label]\nprefix = \"cfg:\"\ntimes = 2\nshout = true\n");
  EXPECT_EQ(outputs("--config " + path + " a"), (std::vector<std::string>{"CFG:AA"}));
  EXPECT_EQ(outputs("--config " + path + " --times 1 --shout=false a"), (std::vector<std::string>{"cfg:a"}));
  // check-config knows the section, from the plugin the file names.
  const CliRun check = run_cli("check-config " + path);
  EXPECT_EQ(check.status, 0) << check.err;
  EXPECT_NE(check.out.find("[label]\n# label: prints --prefix"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("times = 2\n"), std::string::npos) << check.out;
}

TEST_F(KindOptions, BadValuesNameTheOptionWhereverTheyCameFrom) {
  const std::string plugin = std::string("--plugin ") + OPTIONS_PLUGIN;
  CliRun r = run_cli("run label " + plugin + " --times 9 a");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("label option 'times' must be an integer from 1 to 5, not '9'"), std::string::npos) << r.err;
  // One spelling for booleans: true or false, from a flag as in TOML.
  r = run_cli("run label " + plugin + " --shout=yes a");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("label option 'shout' must be true or false, not 'yes'"), std::string::npos) << r.err;
  // Another kind's option is refused, with what this kind takes.
  r = run_cli("run label " + plugin + " --quality 50 a");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--quality is not an option of label (its options: prefix, times, shout)"), std::string::npos)
      << r.err;
  // In the config file: the file, line and column, the key and what it accepts.
  r = run_cli("check-config " + config("[label]\ntimes = 0\n"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("procpool.toml:5:9: key 'times' in [label] must be an integer from 1 to 5, not 0"),
            std::string::npos)
      << r.err;
  r = run_cli("check-config " + config("[label]\ncolour = \"red\"\n"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("procpool.toml:5:10: unknown key 'colour' in [label] (keys: prefix, times, shout)"),
            std::string::npos)
      << r.err;
  r = run_cli("check-config " + config("[label]\nshout = \"yes\"\n"));
  EXPECT_NE(r.err.find("key 'shout' in [label] must be true or false"), std::string::npos) << r.err;
}
