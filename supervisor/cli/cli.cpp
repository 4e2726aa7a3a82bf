#include "supervisor/cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/batch/run.hpp"
#include "supervisor/cli/command.hpp"
#include "supervisor/cli/config_flags.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/cli/kinds.hpp"
#include "supervisor/cli/parse_errors.hpp"
#include "supervisor/cli/suggest.hpp"
#include "supervisor/cli/version.hpp"
#include "supervisor/config/config.hpp"

namespace procpool::cli {
namespace {

// The one place a command's failure becomes a message and an exit status (command.hpp).
template <typename Body>
int exit_status(const std::string& command, Body&& body) {
  const std::string prefix = "procpool" + (command.empty() ? std::string() : " " + command);
  try {
    return body();
  } catch (const supervisor::UsageError& e) {
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", prefix.c_str(), e.what(), prefix.c_str());
    return 2;
  } catch (const supervisor::ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {  // Failed, or what a run met (a pool that could not start)
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), e.what());
    return 1;
  }
}

// The kinds of --plugin libraries and of the config file's plugins exist before the
// flags are made (their options are flags too): found by scanning the arguments.
void load_named_plugins(const Invocation& inv) {
  const std::string command = inv.named();
  if (command != "run" && command != "submit") return;
  load_plugins(scanned_values(inv.argc, inv.argv, "--plugin"), *inv.registry);
  const auto configs = scanned_values(inv.argc, inv.argv, "--config");
  load_config_plugins(config_path_or_default(configs.empty() ? "" : configs.back()), *inv.registry);
}

// `procpool run KIND [INPUT...] -- WORDS...`: the words go to the kind's option that
// takes them (exec's command), or else are inputs (that may look like flags); CLI11
// parses only what comes before them.
void split_after_dashes(Invocation& inv) {
  const std::string command = inv.named();
  if (command != "run" && command != "submit") return;
  for (int i = 2; i < inv.argc; ++i) {
    if (std::string_view(inv.argv[i]) != "--") continue;
    inv.after_dashes.assign(inv.argv + i + 1, inv.argv + inv.argc);
    inv.argc = i;
    return;
  }
}

// What CLI11 would call "A subcommand is required" for all three: no command, an unknown
// one, an option before any command. Said plainly, with the nearest command. True if so.
bool refuse_before_parse(const Invocation& inv, const std::vector<std::string>& commands) {
  std::string list;
  for (const std::string& c : commands) list += (list.empty() ? "" : ", ") + c;
  const std::string hint = "Commands: " + list + ".\nRun 'procpool --help' for usage.\n";
  if (inv.argc < 2) {
    std::fprintf(stderr, "procpool: a command is required\n%s", hint.c_str());
    return true;
  }
  const std::string first = inv.argv[1];
  if (first == "-h" || first == "--help" || first == "-V" || first == "--version" || first == "--help-all") return false;
  if (!first.empty() && first[0] == '-') {
    std::fprintf(stderr, "procpool: unknown option '%s' (options follow the command, e.g. procpool run --help)\n%s",
                 first.c_str(), hint.c_str());
    return true;
  }
  if (std::find(commands.begin(), commands.end(), first) != commands.end()) return false;
  const std::string near = nearest(first, commands);
  std::fprintf(stderr, "procpool: unknown command '%s'%s\n%s", first.c_str(),
               near.empty() ? "" : ("; did you mean '" + near + "'?").c_str(), hint.c_str());
  return true;
}

}  // namespace

int run(int argc, char** argv, const KindRegistry& builtin) {
  KindRegistry registry = builtin;
  Invocation inv{argc, argv, {}, &builtin, &registry};
  if (const int status = exit_status(inv.named(), [&] { return (load_named_plugins(inv), 0); }); status != 0)
    return status;
  split_after_dashes(inv);

  CLI::App app{"procpool: a crash-isolating multi-process worker pool.\n"
               "A supervisor starts one worker process per usable core and feeds it tasks\n"
               "through shared-memory rings; a worker that dies takes down only itself."};
  app.name("procpool");
  app.formatter(std::make_shared<HelpFormatter>());  // before the commands: they inherit it
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", std::string("procpool ") + kVersion);
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(add_run(app, inv));
  commands.push_back(add_submit(app, inv));
  commands.push_back(add_serve(app));
  commands.push_back(add_status(app));
  commands.push_back(add_timeline(app));
  commands.push_back(add_check_config(app));
  commands.push_back(add_generate_docs(app));
  inv.commands = &commands;
  // After the commands, which would inherit it.
  app.footer(wrapped("Run 'procpool COMMAND --help' for a command's options, or see man procpool-COMMAND.", 0,
                     help_width()));
  std::vector<std::string> names;
  names.reserve(commands.size());
  for (const auto& command : commands) names.push_back(command->app()->get_name());
  if (refuse_before_parse(inv, names)) return 2;

  try {
    app.parse(inv.argc, inv.argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Said as every other usage error is, for the command being parsed.
    const CLI::App* sub = &app;
    for (const auto& command : commands)
      if (command->app()->get_name() == inv.named()) sub = command->app();
    const std::string prefix = "procpool " + inv.named();
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", prefix.c_str(),
                 describe_parse_error(e, *sub).c_str(), prefix.c_str());
    return 2;
  }
  for (const auto& command : commands)
    if (command->app()->parsed())
      return exit_status(command->app()->get_name(), [&] { return command->execute(inv); });
  return 2;  // require_subcommand(1) makes this unreachable
}

}  // namespace procpool::cli
