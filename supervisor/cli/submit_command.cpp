// `procpool submit KIND INPUT...`: tasks for a running `procpool serve` (its socket) or
// for every host of a Redis queue; prints each result line.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "supervisor/batch/intake.hpp"
#include "supervisor/batch/run.hpp"
#include "supervisor/cli/command.hpp"
#include "supervisor/cli/config_flags.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/cli/kind_flags.hpp"
#include "supervisor/cli/kinds.hpp"
#include "supervisor/cli/pool_flags.hpp"
#include "supervisor/redis/producer.hpp"
#include "supervisor/service/server.hpp"

namespace procpool::cli {
namespace {

// submit's options for the kind: its flags given (kinds known here) and -o KEY=VALUE, as
// written; the server (or each Redis host) checks them against its own kinds and config.
KindOptions request_options(const KindRegistry& registry, const std::string& kind, const KindFlags& flags,
                            const std::vector<std::string>& generic) {
  const KindInfo* info = registry.find(kind);
  const KindSchema schema = info != nullptr ? info->schema() : KindSchema{kind, "", {}, {}};
  flags.check_all_claimed({&schema});
  KindOptions options = flags.given_for(schema);
  for (const std::string& pair : generic) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) throw supervisor::UsageError("-o takes KEY=VALUE, not '" + pair + "'");
    options.set(pair.substr(0, eq), pair.substr(eq + 1));
  }
  return options;
}

// The server resolves a relative path in its own working folder (a packaged service's is
// /), so the caller's paths, inputs and options alike, go absolute, as the caller meant
// them. Only what the kind says is a path (not a URL, a number, a command's word).
std::string absolute(const std::string& path) {
  return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
}
void make_callers_paths_absolute(const KindSchema& schema, std::vector<std::string>& inputs, KindOptions& options) {
  if (schema.hooks.local_path)
    for (std::string& input : inputs)
      if (schema.hooks.local_path(input)) input = absolute(input);
  for (const OptionSpec& spec : schema.options)
    if (spec.local_path && options.has(spec.name)) options.set(spec.name, absolute(options.get(spec.name, "")));
}

class SubmitCommand final : public Command {
 public:
  SubmitCommand(CLI::App& parent, const Invocation& inv) {
    app_ = parent.add_subcommand("submit", "Give tasks to a running procpool serve; print each result line.");
    app_->add_option("--socket", socket_, "The server's socket (default: [serve] socket of the config file, else " +
                                              std::string(supervisor::kDefaultSocketPath) + ")")
        ->option_text("PATH")
        ->group(section::kService);
    app_->add_option("--config", config_path_,
                     std::string("Find the server's socket (or [redis] queue) in this TOML file (default: ") +
                         supervisor::kDefaultConfigPath + " if it exists)")
        ->option_text("FILE")
        ->group(section::kService);
    app_->add_option("kind", kind_, "The task kind (see procpool run --help)")->required()->option_text("KIND");
    app_->add_option("inputs", inputs_, "Inputs, one task each; paths are sent absolute")->option_text("INPUT");
    app_->add_option("--input-file", input_file_, "Read more inputs from FILE, one per line (- for stdin)")
        ->option_text("FILE")
        ->group(section::kInput);
    add_producer_flags(app_, producer_,
                       "Enqueue on the Redis Streams queue at HOST:PORT instead, for every host serving it");
    app_->add_option("--plugin", plugins_, "Know the kinds of the shared library PATH, for their option flags")
        ->allow_extra_args(false)
        ->option_text("PATH")
        ->group(section::kInput);
    app_->add_option("-o,--option", generic_,
                     "Give the kind the option KEY=VALUE (repeatable), for kinds not known here; the server checks it")
        ->allow_extra_args(false)
        ->option_text("KEY=VALUE")
        ->group(section::kInput);
    // The kinds' options travel with the request; the server checks them.
    std::vector<KindSchema> kinds = schemas(*inv.registry);
    if (inv.named() == "submit") flags_.add_to(app_, kinds);
    document({"The kind's options are the flags procpool run --help lists under each kind; the server checks "
              "them against its own config. Paths among the inputs and options are sent absolute, resolved in "
              "this folder. Each result is printed as a JSON line as it comes.",
              {}, std::move(kinds), "0 all tasks ok, 1 some task not ok, 2 usage error or no server."});
  }

  int execute(const Invocation& inv) override {
    apply_config(app_, effective_config(config_path_, *inv.registry), true);
    if (!input_file_.empty()) {
      std::vector<std::string> more;
      try {
        more = supervisor::read_input_file(input_file_);
      } catch (const std::runtime_error& e) {
        throw supervisor::UsageError(e.what());
      }
      inputs_.insert(inputs_.end(), more.begin(), more.end());
    }
    const KindInfo* known = inv.registry->find(kind_);
    if (known != nullptr && takes_words(known->schema())) flags_.set_after_dashes(inv.after_dashes);
    else inputs_.insert(inputs_.end(), inv.after_dashes.begin(), inv.after_dashes.end());
    if (inputs_.empty()) throw supervisor::UsageError("no inputs");
    KindOptions options = request_options(*inv.registry, kind_, flags_, generic_);
    if (known != nullptr) make_callers_paths_absolute(known->schema(), inputs_, options);
    if (producer_.address.empty()) return supervisor::submit(socket_, kind_, options, inputs_);
    return supervisor::redis::produce(producer_.resolved(), kind_, options, inputs_,
                                      [](const std::string& line, const std::string&) {
                                        std::fwrite(line.data(), 1, line.size(), stdout);
                                        std::fputc('\n', stdout);
                                      });
  }

 private:
  std::string socket_ = supervisor::kDefaultSocketPath, config_path_, kind_, input_file_;
  std::vector<std::string> inputs_, plugins_, generic_;
  ProducerFlags producer_;
  KindFlags flags_;
};

}  // namespace

std::unique_ptr<Command> add_submit(CLI::App& parent, const Invocation& inv) {
  return std::make_unique<SubmitCommand>(parent, inv);
}

}  // namespace procpool::cli
