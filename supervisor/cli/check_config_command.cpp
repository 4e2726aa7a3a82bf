// `procpool check-config [FILE]`: checks a config file and prints the effective
// configuration, every key with its meaning; --example prints every key at its default.
#include <cstdio>
#include <string>

#include "supervisor/cli/command.hpp"
#include "supervisor/cli/config_flags.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/cli/kinds.hpp"
#include "supervisor/config/config.hpp"

namespace procpool::cli {
namespace {

class CheckConfigCommand final : public Command {
 public:
  explicit CheckConfigCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("check-config", "Check a config file; print the effective configuration.");
    app_->add_option("file", path_, std::string("The config file (default: ") + supervisor::kDefaultConfigPath + ")")
        ->option_text("FILE");
    app_->add_flag("--example", example_, "Print the example config (every key at its default) instead");
    document({"Every key is printed with its meaning: the ones the file sets with their values, the others "
              "commented out at their defaults.",
              {}, {}, "0 the file is valid, 1 it is not (the message names its line and column), 2 usage error."});
  }

  int execute(const Invocation& inv) override {
    KindRegistry& registry = *inv.registry;
    if (example_) {
      std::fputs(supervisor::describe_config({}, schemas(registry)).c_str(), stdout);
      return 0;
    }
    const std::string path = path_.empty() ? supervisor::kDefaultConfigPath : path_;
    std::vector<supervisor::ConfigSetting> settings;
    try {
      load_config_plugins(path, registry);
      settings = supervisor::load_config(path, schemas(registry));
    } catch (const std::exception& e) {  // the file is wrong: that is this command's answer, not a usage error
      throw Failed(e.what());
    }
    std::fputs(supervisor::describe_config(settings, schemas(registry)).c_str(), stdout);
    std::fprintf(stderr, "procpool check-config: %s: ok: %zu %s set, the others at the defaults shown\n",
                 path.c_str(), settings.size(), settings.size() == 1 ? "key" : "keys");
    return 0;
  }

 private:
  std::string path_;
  bool example_ = false;
};

}  // namespace

std::unique_ptr<Command> add_check_config(CLI::App& parent) { return std::make_unique<CheckConfigCommand>(parent); }

}  // namespace procpool::cli
