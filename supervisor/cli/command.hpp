#pragma once
// One subcommand of `procpool`: it adds its flags to a CLI11 subcommand, and once the
// command line is parsed, runs. A command reports failure by throwing; cli.cpp alone
// turns what it throws into a message and an exit status:
//   UsageError, ConfigError    -> "procpool SUB: WHY", exit 2
//   Failed                     -> "procpool SUB: WHY", exit 1 (a run that could not finish)
//   any other std::exception   -> "procpool SUB: WHY", exit 1
// Its own results (tasks not ok, a signal) are its return value.
#include <CLI/CLI.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "child/task_api.hpp"

namespace procpool::cli {

// The command ran but failed at what it was asked (a config that does not check out).
struct Failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What every command may look at: the raw arguments (some are scanned before parsing),
// the words after "--", and the kinds known (built-in, plus --plugin's and the config's).
struct Invocation {
  int argc = 0;
  char** argv = nullptr;
  std::vector<std::string> after_dashes;
  const KindRegistry* builtin = nullptr;
  KindRegistry* registry = nullptr;
  // The subcommand named on the command line (argv[1]), or "".
  std::string named() const { return argc >= 2 ? argv[1] : ""; }
};

class Command {
 public:
  virtual ~Command() = default;
  CLI::App* app() const { return app_; }
  virtual int execute(const Invocation& inv) = 0;

 protected:
  CLI::App* app_ = nullptr;  // the subcommand, made by the constructor
};

std::unique_ptr<Command> add_run(CLI::App& parent, const Invocation& inv);
std::unique_ptr<Command> add_submit(CLI::App& parent, const Invocation& inv);
std::unique_ptr<Command> add_serve(CLI::App& parent);
std::unique_ptr<Command> add_status(CLI::App& parent);
std::unique_ptr<Command> add_timeline(CLI::App& parent);
std::unique_ptr<Command> add_check_config(CLI::App& parent);

}  // namespace procpool::cli
