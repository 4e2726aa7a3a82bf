#include "supervisor/cli/man_page.hpp"

#include <algorithm>
#include <cctype>

#include "supervisor/cli/help_format.hpp"
#include "supervisor/config/config.hpp"

namespace procpool::cli {
namespace {

// Text as roff reads it literally: backslashes and hyphens escaped, no line starting with
// a control character, each line of the text its own line.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (const char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  return out;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Paragraphs ("\n\n" between them) as .PP paragraphs; single newlines are spaces.
std::string paragraphs(const std::string& text) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find("\n\n", at), text.size());
    std::string para = text.substr(at, end - at);
    std::replace(para.begin(), para.end(), '\n', ' ');
    if (!para.empty()) out += ".PP\n" + roff(para) + "\n";
    at = end + 2;
  }
  return out;
}

// "-j, --workers N" as "\fB\-j\fR, \fB\-\-workers\fR \fIN\fR".
std::string flag_synopsis(const CLI::Option* opt) {
  std::string out;
  for (const std::string& s : opt->get_snames()) out += (out.empty() ? "" : ", ") + ("\\fB" + roff("-" + s) + "\\fR");
  for (const std::string& l : opt->get_lnames()) out += (out.empty() ? "" : ", ") + ("\\fB" + roff("--" + l) + "\\fR");
  const std::string value = option_value(opt);
  return value.empty() ? out : out + " \\fI" + roff(value) + "\\fR";
}

std::string entry(const std::string& term, const std::string& text) {
  return ".TP\n" + term + "\n" + roff(text) + "\n";
}

std::string header(const std::string& name, const std::string& summary, const std::string& version) {
  return ".\\\" Made by procpool generate-docs from the command line's own definitions: do not edit.\n"
         ".TH " + upper(name) + " 1 \"\" \"procpool " + version + "\" \"procpool manual\"\n"
         ".SH NAME\n" + roff(name) + " \\- " + roff(summary) + "\n";
}

std::string files_section() {
  return ".SH FILES\n" + entry("\\fI" + roff(supervisor::kDefaultConfigPath) + "\\fR",
                               "The config file, read when it exists (procpool check-config --example prints one "
                               "with every key at its default).");
}

}  // namespace

std::string root_man_page(const CLI::App& root, const std::string& version) {
  std::string out = header("procpool", "a crash-isolating multi-process worker pool", version);
  out += ".SH SYNOPSIS\n.B procpool\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] ...\n";
  out += ".SH DESCRIPTION\n" + paragraphs(root.get_description());
  out += ".SH COMMANDS\n";
  std::string see_also;
  for (const CLI::App* sub : root.get_subcommands({})) {
    if (sub->get_group().empty()) continue;  // hidden
    out += entry("\\fB" + roff(sub->get_name()) + "\\fR",
                 sub->get_description() + " See procpool-" + sub->get_name() + "(1).");
    see_also += (see_also.empty() ? "" : ",\n") + ("\\fBprocpool\\-" + roff(sub->get_name()) + "\\fR(1)");
  }
  out += ".SH OPTIONS\n";
  for (const CLI::Option* opt : options_of(&root, "Options")) out += entry(flag_synopsis(opt), option_description(opt));
  out += files_section();
  out += ".SH SEE ALSO\n" + see_also + "\n";
  return out;
}

std::string command_man_page(const CLI::App& root, const Command& command, const std::string& version) {
  const CLI::App* app = command.app();
  const CommandDoc& doc = command.doc();
  const std::string name = "procpool-" + app->get_name();
  std::string out = header(name, app->get_description(), version);
  out += ".SH SYNOPSIS\n" + roff(usage_line(app, root.get_name() + " " + app->get_name())) + "\n";
  out += ".SH DESCRIPTION\n" + paragraphs(app->get_description()) + paragraphs(doc.about);
  std::string arguments;
  for (const CLI::Option* opt : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
    arguments += entry("\\fI" + roff(positional_usage(opt)) + "\\fR", option_description(opt));
  if (!arguments.empty()) out += ".SH ARGUMENTS\n" + arguments;
  out += ".SH OPTIONS\n";
  for (const std::string& section : sections_in_order(app)) {
    out += ".SS " + roff(section) + "\n";
    for (const CLI::Option* opt : options_of(app, section)) out += entry(flag_synopsis(opt), option_description(opt));
  }
  if (!doc.kinds_listed.empty()) {
    out += ".SH TASK KINDS\n";
    for (const KindSchema& kind : doc.kinds_listed) out += entry("\\fB" + roff(kind.name) + "\\fR", kind.summary);
  }
  std::string kind_sections;
  for (const KindSchema& kind : doc.kind_options) {
    std::string entries;
    for (const OptionSpec& spec : kind.options) {
      if (spec.after_dashes) continue;
      const std::string value = placeholder(spec);
      const std::string letter = spec.letter != 0 ? std::string{'-', spec.letter, ','} + " " : "";
      entries += entry("\\fB" + roff(letter + "--" + spec.name) + "\\fR" + (value.empty() ? "" : " \\fI" + roff(value) + "\\fR"),
                       option_help(spec));
    }
    if (!entries.empty()) kind_sections += ".SS " + roff(kind.name) + "\n" + entries;
  }
  if (!kind_sections.empty()) out += ".SH KIND OPTIONS\n" + kind_sections;
  if (!doc.exit_status.empty()) out += ".SH EXIT STATUS\n" + paragraphs(doc.exit_status);
  out += files_section();
  out += ".SH SEE ALSO\n\\fBprocpool\\fR(1)\n";
  return out;
}

}  // namespace procpool::cli
