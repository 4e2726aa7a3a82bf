#pragma once
// Task kinds' options on the command line: one --NAME flag per option name of every kind
// (ipc/kind_schema.hpp), and the config file's kind sections, turned into a kind's
// options. The command line's only knowledge of kinds is what their schemas say.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "ipc/kind_schema.hpp"
#include "supervisor/config/config.hpp"

namespace procpool::cli {

class KindFlags {
 public:
  // Adds a flag for each option of the kinds (an option several kinds share is one flag),
  // left out of CLI11's help: kind_options_help() shows them kind by kind. Options given
  // after "--" are not flags: after_dashes() takes them.
  void add_to(CLI::App* app, const std::vector<KindSchema>& kinds);
  // The flags given that `kind` declares, as its options (${VAR} expanded where the
  // option says so); the words after "--" go to its after-dashes option.
  KindOptions given_for(const KindSchema& kind) const;
  // Each flag given must belong to one of these kinds: throws a UsageError naming the
  // flag and what the kinds accept otherwise.
  void check_all_claimed(const std::vector<const KindSchema*>& kinds) const;
  void set_after_dashes(std::vector<std::string> words) { after_dashes_ = std::move(words); }

 private:
  struct Flag {
    std::string name;
    std::vector<std::string> values;
    CLI::Option* option = nullptr;
  };
  std::vector<std::unique_ptr<Flag>> flags_;  // stable addresses: CLI11 writes into them
  std::vector<std::string> after_dashes_;
};

// The options a kind's config section gives (${VAR} expanded where the option says so).
KindOptions options_from_config(const KindSchema& kind, const std::vector<supervisor::ConfigSetting>& settings);
// Whether the kind has an option given as the words after "--" (exec's command).
bool takes_words(const KindSchema& kind);
// `base` with `over` laid on top.
KindOptions merged(KindOptions base, const KindOptions& over);
// A List option's value: the items as a JSON array of strings.
std::string list_value(const std::vector<std::string>& items);

}  // namespace procpool::cli
