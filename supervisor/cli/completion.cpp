#include "supervisor/cli/completion.hpp"

#include <algorithm>
#include <set>

#include "supervisor/cli/help_format.hpp"

namespace procpool::cli {
namespace {

// One flag as the completion sees it: its spellings and what follows it ("" for nothing,
// FILE, DIR, "a|b" for one of those words, anything else for free text).
struct Flag {
  std::vector<std::string> names;
  std::string value, help;
};

std::string first_sentence(const std::string& text) {
  std::string out = text.substr(0, text.find(". "));
  if (out.size() > 70) out.replace(67, std::string::npos, "...");
  return out;
}

std::vector<Flag> command_flags(const CLI::App* app) {
  std::vector<Flag> out;
  for (const std::string& section : sections_in_order(app))
    for (const CLI::Option* opt : options_of(app, section)) {
      Flag f{{}, option_value(opt), first_sentence(opt->get_description())};
      for (const std::string& s : opt->get_snames()) f.names.push_back("-" + s);
      for (const std::string& l : opt->get_lnames()) f.names.push_back("--" + l);
      out.push_back(std::move(f));
    }
  return out;
}

std::vector<Flag> kind_flags(const KindSchema& kind) {
  std::vector<Flag> out;
  for (const OptionSpec& spec : kind.options) {
    if (spec.after_dashes) continue;
    std::vector<std::string> names{"--" + spec.name};
    if (spec.letter != 0) names.push_back(std::string{'-', spec.letter});
    out.push_back({names, placeholder(spec), first_sentence(option_help(spec))});
  }
  return out;
}

// Single-quoted for sh, zsh and fish alike.
std::string sh_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The sh functions bash and zsh share: the commands' and kinds' flags, and the value each
// flag takes, as `case` tables.
//   _procpool_flags COMMAND        the command's flags
//   _procpool_kinds COMMAND        the kinds, if the command's first argument is one
//   _procpool_kind_flags KIND      the kind's own flags ("": every kind's)
//   _procpool_value COMMAND KIND FLAG   what follows FLAG, "" when nothing does
std::string sh_tables(const std::vector<std::unique_ptr<Command>>& commands) {
  std::string flags = "_procpool_flags() {\n  case \"$1\" in\n";
  std::string kinds = "_procpool_kinds() {\n  case \"$1\" in\n";
  std::string values = "_procpool_value() {\n  case \"$1 $3\" in\n";
  std::string kind_values, kind_lists;
  std::set<std::string> kinds_seen;
  std::vector<std::string> every_kind_flag;  // for a command line with no kind yet
  for (const auto& command : commands) {
    const CLI::App* app = command->app();
    if (app->get_group().empty()) continue;
    std::vector<std::string> names;
    for (const Flag& f : command_flags(app)) {
      names.insert(names.end(), f.names.begin(), f.names.end());
      if (f.value.empty()) continue;
      for (const std::string& n : f.names) values += "    " + sh_quoted(app->get_name() + " " + n) + ") echo " + sh_quoted(f.value) + "; return ;;\n";
    }
    flags += "    " + app->get_name() + ") echo " + sh_quoted(joined(names)) + " ;;\n";
    std::vector<std::string> kind_names;
    for (const KindSchema& kind : command->doc().kind_options) {
      kind_names.push_back(kind.name);
      if (!kinds_seen.insert(kind.name).second) continue;
      std::vector<std::string> own;
      for (const Flag& f : kind_flags(kind)) {
        own.push_back(f.names.front());
        if (std::find(every_kind_flag.begin(), every_kind_flag.end(), f.names.front()) == every_kind_flag.end())
          every_kind_flag.push_back(f.names.front());
        if (!f.value.empty()) kind_values += "    " + sh_quoted(kind.name + " " + f.names.front()) + ") echo " + sh_quoted(f.value) + " ;;\n";
      }
      kind_lists += "    " + sh_quoted(kind.name) + ") echo " + sh_quoted(joined(own)) + " ;;\n";
    }
    if (!kind_names.empty()) kinds += "    " + app->get_name() + ") echo " + sh_quoted(joined(kind_names)) + " ;;\n";
  }
  flags += "  esac\n}\n";
  kinds += "  esac\n}\n";
  values += "  esac\n  case \"$2 $3\" in\n" + kind_values + "  esac\n}\n";
  kind_lists += "    '') echo " + sh_quoted(joined(every_kind_flag)) + " ;;\n";
  return flags + kinds + "_procpool_kind_flags() {\n  case \"$1\" in\n" + kind_lists + "  esac\n}\n" + values;
}

std::string command_names(const std::vector<std::unique_ptr<Command>>& commands) {
  std::vector<std::string> names;
  for (const auto& command : commands)
    if (!command->app()->get_group().empty()) names.push_back(command->app()->get_name());
  return joined(names);
}

// Where the cursor is, for bash and zsh alike: sets command, kind (the first argument
// that is not a flag or a flag's value, when the command takes a kind) and after_dashes.
// Arguments: the words before the cursor, from the command on.
const char* kScan = R"sh(_procpool_scan() {
  command="$1"; kind=""; after_dashes=0
  shift
  local kinds word
  kinds=" $(_procpool_kinds "$command") "
  while [ $# -gt 0 ]; do
    word="$1"; shift
    case "$word" in
      --) after_dashes=1; return ;;
      -*=*) ;;
      -*) [ -n "$(_procpool_value "$command" "$kind" "$word")" ] && [ $# -gt 0 ] && shift ;;
      *) [ -z "$kind" ] && [ "$kinds" != "  " ] && kind="$word" ;;
    esac
  done
}
# The words to offer for the current one: "files", "dirs", "commands" or a list.
_procpool_offer() {
  local cur="$1" prev="$2" value
  value="$(_procpool_value "$command" "$kind" "$prev")"
  if [ "$after_dashes" = 1 ]; then echo files; return; fi
  case "$prev" in -*) if [ -n "$value" ] && [ "${prev#*=}" = "$prev" ]; then
    case "$value" in
      FILE|PATH|RESULTS) echo files ;;
      DIR) echo dirs ;;
      *'|'*) echo "words $(echo "$value" | tr '|' ' ')" ;;
      *) echo nothing ;;
    esac
    return
  fi ;; esac
  case "$cur" in
    -*) if [ -n "$(_procpool_kinds "$command")" ]; then
          echo "words $(_procpool_flags "$command") $(_procpool_kind_flags "$kind")"
        else
          echo "words $(_procpool_flags "$command")"
        fi ;;
    *) if [ -z "$kind" ] && [ -n "$(_procpool_kinds "$command")" ]; then echo "words $(_procpool_kinds "$command")"
       else echo files; fi ;;
  esac
}
)sh";

std::string bash_script(const std::vector<std::unique_ptr<Command>>& commands) {
  return "# bash completion for procpool. Made by procpool generate-docs from the command line's own\n"
         "# definitions: do not edit.\n" +
         sh_tables(commands) + kScan +
         "_procpool() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" command kind after_dashes offer\n"
         "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
         "    COMPREPLY=($(compgen -W " + sh_quoted(command_names(commands) + " --help --version") + " -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  _procpool_scan \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"\n"
         "  offer=\"$(_procpool_offer \"$cur\" \"$prev\")\"\n"
         "  case \"$offer\" in\n"
         "    files) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
         "    dirs) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
         "    words\\ *) COMPREPLY=($(compgen -W \"${offer#words }\" -- \"$cur\")) ;;\n"
         "    *) COMPREPLY=() ;;\n"
         "  esac\n"
         "}\n"
         "complete -o filenames -F _procpool procpool\n";
}

std::string zsh_script(const std::vector<std::unique_ptr<Command>>& commands) {
  return "#compdef procpool\n"
         "# zsh completion for procpool. Made by procpool generate-docs from the command line's own\n"
         "# definitions: do not edit.\n"
         "" +
         sh_tables(commands) + kScan +
         "_procpool() {\n"
         "  local cur=\"${words[CURRENT]}\" prev=\"${words[CURRENT-1]}\" command kind after_dashes offer\n"
         "  if (( CURRENT == 2 )); then\n"
         "    compadd -- " + command_names(commands) + " --help --version\n"
         "    return\n"
         "  fi\n"
         "  _procpool_scan \"${(@)words[2,CURRENT-1]}\"\n"
         "  offer=\"$(_procpool_offer \"$cur\" \"$prev\")\"\n"
         "  case \"$offer\" in\n"
         "    files) _files ;;\n"
         "    dirs) _files -/ ;;\n"
         "    words\\ *) compadd -- ${=${offer#words }} ;;\n"
         "  esac\n"
         "}\n"
         "_procpool \"$@\"\n";
}

std::string fish_flag(const std::string& condition, const Flag& f) {
  std::string line = "complete -c procpool -n " + sh_quoted(condition);
  for (const std::string& n : f.names) line += n.rfind("--", 0) == 0 ? " -l " + n.substr(2) : " -s " + n.substr(1);
  if (f.value == "FILE" || f.value == "PATH" || f.value == "RESULTS") line += " -r -F";
  else if (f.value == "DIR") line += " -x -a '(__fish_complete_directories)'";
  else if (f.value.find('|') != std::string::npos) {
    std::string words = f.value;
    for (char& c : words) c = c == '|' ? ' ' : c;
    line += " -x -a " + sh_quoted(words);
  } else if (!f.value.empty()) line += " -x";
  return line + " -d " + sh_quoted(f.help) + "\n";
}

std::string fish_script(const std::vector<std::unique_ptr<Command>>& commands) {
  std::string out =
      "# fish completion for procpool. Made by procpool generate-docs from the command line's own\n"
      "# definitions: do not edit.\n"
      "complete -c procpool -f\n";
  std::set<std::string> kinds_done;
  for (const auto& command : commands) {
    const CLI::App* app = command->app();
    if (app->get_group().empty()) continue;
    out += "complete -c procpool -n __fish_use_subcommand -a " + app->get_name() + " -d " +
           sh_quoted(first_sentence(app->get_description())) + "\n";
    const std::string in_command = "__fish_seen_subcommand_from " + app->get_name();
    for (const Flag& f : command_flags(app)) out += fish_flag(in_command, f);
    if (command->doc().kind_options.empty()) continue;
    std::vector<std::string> names;
    for (const KindSchema& kind : command->doc().kind_options) names.push_back(kind.name);
    for (const KindSchema& kind : command->doc().kind_options) {
      out += "complete -c procpool -n " + sh_quoted(in_command + "; and not __fish_seen_subcommand_from " + joined(names)) +
             " -a " + kind.name + " -d " + sh_quoted(first_sentence(kind.summary)) + "\n";
      for (const Flag& f : kind_flags(kind))
        out += fish_flag(in_command + "; and __fish_seen_subcommand_from " + kind.name, f);
    }
    out += "complete -c procpool -n " + sh_quoted(in_command + "; and __fish_seen_subcommand_from " + joined(names)) +
           " -F\n";  // inputs: files
  }
  return out;
}

}  // namespace

std::string completion_script(Shell shell, const std::vector<std::unique_ptr<Command>>& commands) {
  switch (shell) {
    case Shell::Bash: return bash_script(commands);
    case Shell::Zsh: return zsh_script(commands);
    case Shell::Fish: return fish_script(commands);
  }
  return "";
}

}  // namespace procpool::cli
