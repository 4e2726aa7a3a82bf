#include "supervisor/cli/kind_flags.hpp"

#include <nlohmann/json.hpp>

#include "supervisor/batch/run.hpp"

namespace procpool::cli {

namespace {

// The values of one option as written, expanded where the option says so.
std::string value_of(const KindSchema& kind, const OptionSpec& spec, const std::vector<std::string>& values) {
  std::vector<std::string> expanded;
  expanded.reserve(values.size());
  for (const std::string& v : values) expanded.push_back(spec.expand_env ? expand_environment(kind.name, spec, v) : v);
  if (spec.type == OptionType::List) return list_value(expanded);
  return expanded.back();  // given twice: the last wins, as with most tools
}

}  // namespace

std::string list_value(const std::vector<std::string>& items) { return nlohmann::json(items).dump(); }

void KindFlags::add_to(CLI::App* app, const std::vector<KindSchema>& kinds) {
  std::vector<const OptionSpec*> seen;  // one flag per name, whichever kinds share it
  for (const KindSchema& kind : kinds)
    for (const OptionSpec& spec : kind.options) {
      const bool known = std::any_of(seen.begin(), seen.end(), [&](const OptionSpec* s) { return s->name == spec.name; });
      if (!spec.after_dashes && !known) seen.push_back(&spec);
    }
  for (const OptionSpec* spec : seen) {
    auto flag = std::make_unique<Flag>();
    flag->name = spec->name;
    const std::string name = (spec->letter != 0 ? std::string{'-', spec->letter, ','} : "") + "--" + spec->name;
    if (spec->takes_value()) {
      flag->option = app->add_option(name, flag->values, spec->help)->allow_extra_args(false);
    } else {
      flag->option = app->add_flag(name, flag->values, spec->help);
    }
    // Not in CLI11's sections: --help shows each kind's options under the kind, from its
    // schema (kind_options_help), since one flag may serve several kinds.
    flag->option->group("");
    flags_.push_back(std::move(flag));
  }
}

KindOptions KindFlags::given_for(const KindSchema& kind) const {
  KindOptions out;
  try {
    for (const auto& flag : flags_) {
      const OptionSpec* spec = kind.find(flag->name);
      if (spec != nullptr && !flag->values.empty()) out.set(flag->name, value_of(kind, *spec, flag->values));
    }
    for (const OptionSpec& spec : kind.options)
      if (spec.after_dashes && !after_dashes_.empty()) out.set(spec.name, list_value(after_dashes_));
  } catch (const OptionError& e) {
    throw supervisor::UsageError(e.what());
  }
  return out;
}

void KindFlags::check_all_claimed(const std::vector<const KindSchema*>& kinds) const {
  std::string names;
  for (const KindSchema* k : kinds) names += std::string(names.empty() ? "" : " or ") + k->name;
  for (const auto& flag : flags_) {
    if (flag->values.empty()) continue;
    const bool claimed = std::any_of(kinds.begin(), kinds.end(), [&](const KindSchema* k) { return k->find(flag->name); });
    if (claimed) continue;
    std::string accepted;
    for (const KindSchema* k : kinds)
      accepted += (accepted.empty() ? "" : "; ") + (kinds.size() > 1 ? k->name + "'s: " : "") + k->option_names();
    throw supervisor::UsageError("--" + flag->name + " is not an option of " + names + " (" +
                                 (kinds.size() > 1 ? "options " : "its options: ") + accepted + ")");
  }
  if (!after_dashes_.empty() && std::none_of(kinds.begin(), kinds.end(), [](const KindSchema* k) { return takes_words(*k); }))
    throw supervisor::UsageError("'--' and what follows it mean nothing to " + names);
}

KindOptions options_from_config(const KindSchema& kind, const std::vector<supervisor::ConfigSetting>& settings) {
  KindOptions out;
  for (const supervisor::ConfigSetting& s : settings) {
    if (s.section != kind.name) continue;
    const OptionSpec* spec = kind.find(s.key);
    if (spec == nullptr) continue;  // the loader refused it already
    try {
      out.set(s.key, value_of(kind, *spec, s.values));
    } catch (const OptionError& e) {
      throw supervisor::ConfigError(s.where + ": " + e.what());
    }
  }
  return out;
}

bool takes_words(const KindSchema& kind) {
  return std::any_of(kind.options.begin(), kind.options.end(), [](const OptionSpec& o) { return o.after_dashes; });
}

KindOptions merged(KindOptions base, const KindOptions& over) {
  for (const auto& [key, value] : over.values()) base.set(key, value);
  return base;
}

}  // namespace procpool::cli
