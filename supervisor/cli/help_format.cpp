#include "supervisor/cli/help_format.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace procpool::cli {
namespace {

constexpr std::size_t kDescriptionColumn = 28;

// Columns a UTF-8 text takes: its bytes that start a character.
std::size_t columns(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool mentions_default(const std::string& text) { return text.find("default") != std::string::npos; }

}  // namespace

std::size_t help_width() {
  const char* env = std::getenv("COLUMNS");
  if (env == nullptr || *env == '\0') return 80;
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  return *end == '\0' && n >= 40 && n <= 500 ? static_cast<std::size_t>(n) : 80;
}

std::string wrapped(std::string_view text, std::size_t indent, std::size_t width, std::size_t column) {
  const std::string pad(indent, ' ');
  std::string out;
  bool line_start = true;  // column: of the line being written, the indent counted
  std::size_t at = 0;
  while (at < text.size()) {
    if (text[at] == '\n') {
      out += '\n' + pad;
      column = indent;
      line_start = true;
      ++at;
      continue;
    }
    if (text[at] == ' ') {
      ++at;
      continue;
    }
    const std::size_t end = text.find_first_of(" \n", at);
    const std::string_view word = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    at += word.size();
    const std::size_t need = columns(word) + (line_start ? 0 : 1);
    if (!line_start && column + need > width) {
      out += '\n' + pad;
      column = indent;
      line_start = true;
    }
    if (!line_start) out += ' ';
    out += word;
    column += columns(word) + (line_start ? 0 : 1);
    line_start = false;
  }
  return out;
}

std::string help_entry(const std::string& left, const std::string& description, std::size_t width) {
  std::string out = "  " + left;
  const std::size_t used = 2 + columns(left);
  if (description.empty()) return out + "\n";
  if (used + 2 > kDescriptionColumn) {
    out += "\n" + std::string(kDescriptionColumn, ' ');
  } else {
    out += std::string(kDescriptionColumn - used, ' ');
  }
  return out + wrapped(description, kDescriptionColumn, width, kDescriptionColumn) + "\n";
}

std::string placeholder(const OptionSpec& spec) { return spec.takes_value() ? spec.unit : ""; }

std::string option_help(const OptionSpec& spec) {
  std::string help = spec.help;
  if (!help.empty()) help[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(help[0])));
  if (spec.type == OptionType::List && help.find("repeatable") == std::string::npos) help += " (repeatable)";
  const bool shown = spec.type != OptionType::Bool && spec.type != OptionType::List && !spec.fallback.empty();
  if (shown && !mentions_default(help)) help += " (default: " + spec.fallback + ")";
  return help;
}

std::string kind_options_help(const std::vector<KindSchema>& kinds, std::size_t width) {
  std::string out;
  for (const KindSchema& kind : kinds) {
    std::string entries;
    for (const OptionSpec& spec : kind.options) {
      if (spec.after_dashes) continue;
      const std::string value = placeholder(spec);
      const std::string letter = spec.letter != 0 ? std::string{'-', spec.letter, ','} + " " : "    ";
      entries += help_entry("  " + letter + "--" + spec.name + (value.empty() ? "" : " " + value), option_help(spec), width);
    }
    if (!entries.empty()) out += "\n" + kind.name + " options:\n" + entries;
  }
  return out;
}

std::string kinds_list_help(const std::vector<KindSchema>& kinds, std::size_t width) {
  std::string out = "Task kinds:\n";
  for (const KindSchema& kind : kinds) out += help_entry(kind.name, kind.summary, width);
  return out;
}

std::string positional_usage(const CLI::Option* opt) {
  std::string name = opt->get_option_text();
  if (name.empty()) {
    name = opt->get_name(true, false);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (opt->get_expected_max() >= CLI::detail::expected_max_vector_size) name += "...";
  return opt->get_required() ? name : "[" + name + "]";
}

std::string usage_line(const CLI::App* app, const std::string& name) {
  std::string out = name;
  if (!app->get_options([](const CLI::Option* opt) { return opt->nonpositional(); }).empty()) out += " [OPTIONS]";
  for (const CLI::Option* opt : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
    out += " " + positional_usage(opt);
  if (!app->get_subcommands({}).empty()) out += " COMMAND";
  return out;
}

std::string option_value(const CLI::Option* opt) {
  if (opt->get_expected_max() == 0) return "";  // a flag
  return opt->get_option_text().empty() ? "VALUE" : opt->get_option_text();
}

std::string option_left(const CLI::Option* opt) {
  if (opt->get_positional()) return positional_usage(opt);
  std::string names;
  for (const std::string& s : opt->get_snames()) names += (names.empty() ? "-" : ", -") + s;
  for (const std::string& l : opt->get_lnames()) names += (names.empty() ? "    --" : ", --") + l;
  const std::string value = option_value(opt);
  return value.empty() ? names : names + " " + value;
}

std::string option_description(const CLI::Option* opt) {
  std::string text = opt->get_description();
  if (!opt->get_default_str().empty() && !mentions_default(text)) text += " (default: " + opt->get_default_str() + ")";
  return text;
}

std::vector<std::string> sections_in_order(const CLI::App* app) {
  static const std::vector<std::string> order{section::kInput,  section::kPool,    section::kLimits,
                                              section::kOutput, section::kService, section::kRedis};
  const auto rank = [&](const std::string& group) {
    const auto at = std::find(order.begin(), order.end(), group);
    return group == "Options" ? order.size() + 1 : at == order.end() ? order.size() : at - order.begin();
  };
  std::vector<std::string> groups;
  for (const std::string& group : app->get_groups())
    if (!group.empty() && !options_of(app, group).empty()) groups.push_back(group);  // "": hidden
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return groups;
}

std::vector<const CLI::Option*> options_of(const CLI::App* app, const std::string& section) {
  return app->get_options([&](const CLI::Option* o) { return o->nonpositional() && o->get_group() == section; });
}

std::string HelpFormatter::make_usage(const CLI::App* app, std::string name) const {
  return wrapped("Usage: " + usage_line(app, name), 4, help_width()) + "\n";
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string name, CLI::AppFormatMode) const {
  const std::size_t width = help_width();
  std::string out = make_usage(app, name);
  if (!app->get_description().empty()) out += "\n" + wrapped(app->get_description(), 0, width) + "\n";
  std::string arguments;
  for (const CLI::Option* opt : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
    if (!opt->get_group().empty()) arguments += help_entry(option_left(opt), option_description(opt), width);
  if (!arguments.empty()) out += "\nArguments:\n" + arguments;
  for (const std::string& group : sections_in_order(app)) {
    out += "\n" + group + ":\n";
    for (const CLI::Option* opt : options_of(app, group)) out += help_entry(option_left(opt), option_description(opt), width);
  }
  std::string commands;
  for (const CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_group().empty()) commands += help_entry(sub->get_name(), sub->get_description(), width);
  if (!commands.empty()) out += "\nCommands:\n" + commands;
  if (!app->get_footer().empty()) out += "\n" + app->get_footer() + "\n";
  return out;
}

}  // namespace procpool::cli
