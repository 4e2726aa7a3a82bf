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
class Command;

struct Invocation {
  int argc = 0;
  char** argv = nullptr;
  std::vector<std::string> after_dashes;
  const KindRegistry* builtin = nullptr;
  KindRegistry* registry = nullptr;
  // Every command, for the one that documents them all (generate-docs).
  const std::vector<std::unique_ptr<Command>>* commands = nullptr;
  // The subcommand named on the command line (argv[1]), or "".
  std::string named() const { return argc >= 2 ? argv[1] : ""; }
};

// What a command's --help and man page say beyond its flags.
struct CommandDoc {
  std::string about;                    // paragraphs ("\n\n" between them) after the description
  std::vector<KindSchema> kinds_listed;  // the kinds it runs, listed with their summaries (run)
  std::vector<KindSchema> kind_options;  // the kinds whose options are its flags too
  std::string exit_status;              // one paragraph
};

class Command {
 public:
  virtual ~Command() = default;
  CLI::App* app() const { return app_; }
  const CommandDoc& doc() const { return doc_; }
  virtual int execute(const Invocation& inv) = 0;

 protected:
  // Sets doc_ and the help's footer from it; the constructor's last step.
  void document(CommandDoc doc);

  CLI::App* app_ = nullptr;  // the subcommand, made by the constructor
  CommandDoc doc_;
};

std::unique_ptr<Command> add_run(CLI::App& parent, const Invocation& inv);
std::unique_ptr<Command> add_submit(CLI::App& parent, const Invocation& inv);
std::unique_ptr<Command> add_serve(CLI::App& parent);
std::unique_ptr<Command> add_status(CLI::App& parent);
std::unique_ptr<Command> add_timeline(CLI::App& parent);
std::unique_ptr<Command> add_check_config(CLI::App& parent);
std::unique_ptr<Command> add_generate_docs(CLI::App& parent);

}  // namespace procpool::cli
