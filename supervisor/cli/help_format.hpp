#pragma once
// --help as a man page reads: a usage line, the description, then sections (arguments,
// input, pool, limits, output, each kind's options), every flag with a placeholder that
// says what goes there (SECONDS, SIZE, DIR) and its default in words, all wrapped to the
// terminal's width: $COLUMNS, else 80 columns.
#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/kind_schema.hpp"

namespace procpool::cli {

// The sections a command's flags are grouped in, in the order --help shows them.
namespace section {
inline constexpr const char* kInput = "Input";
inline constexpr const char* kPool = "Pool";
inline constexpr const char* kLimits = "Limits";
inline constexpr const char* kOutput = "Output";
inline constexpr const char* kService = "Service";
inline constexpr const char* kRedis = "Redis queue";
}  // namespace section

// $COLUMNS when it is a number from 40 to 500, else 80.
std::size_t help_width();

// text wrapped at spaces to `width` columns, its first line starting at column `column`
// (what is before it already written), the others indented by `indent` spaces; a "\n" in
// text starts a new line at the indent.
std::string wrapped(std::string_view text, std::size_t indent, std::size_t width, std::size_t column = 0);

// One entry of a section: "  LEFT" and its description from column 28 (on the next line
// when LEFT is longer), wrapped.
std::string help_entry(const std::string& left, const std::string& description, std::size_t width);

// What a kind option's flag shows for its value: its unit ("WxH", "DIR"), or "".
std::string placeholder(const OptionSpec& spec);
// A kind option's help, as a sentence, with its default in words: "JPEG/WebP quality
// (default: 75)".
std::string option_help(const OptionSpec& spec);
// "thumbnail options:" and each flag of the kind, for every kind that has flags.
std::string kind_options_help(const std::vector<KindSchema>& kinds, std::size_t width);
// "Task kinds:" and each kind's summary.
std::string kinds_list_help(const std::vector<KindSchema>& kinds, std::size_t width);

// The parts the formatter, the man pages and the completions share.
// "KIND", "[INPUT...]": a positional as the usage line shows it.
std::string positional_usage(const CLI::Option* opt);
// "procpool run [OPTIONS] KIND [INPUT...]", unwrapped.
std::string usage_line(const CLI::App* app, const std::string& name);
// "-j, --workers N" or "    --timeout SECONDS|N%" (a positional: its usage).
std::string option_left(const CLI::Option* opt);
// What goes in a flag's place ("N", "FILE"), "" for a flag without a value.
std::string option_value(const CLI::Option* opt);
// Its description, with its default in words where the description does not say it.
std::string option_description(const CLI::Option* opt);
// The sections that hold shown flags, in the order --help shows them (procpool's own,
// then others, then CLI11's "Options").
std::vector<std::string> sections_in_order(const CLI::App* app);
// The flags of one section.
std::vector<const CLI::Option*> options_of(const CLI::App* app, const std::string& section);

class HelpFormatter final : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override;
  std::string make_usage(const CLI::App* app, std::string name) const override;
  std::string make_option_usage(const CLI::Option* opt) const override { return positional_usage(opt); }
};

}  // namespace procpool::cli
