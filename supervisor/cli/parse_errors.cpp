#include "supervisor/cli/parse_errors.hpp"

#include <cctype>
#include <string>
#include <vector>

#include "supervisor/cli/suggest.hpp"

namespace procpool::cli {
namespace {

// Every long and short flag of the command, with its dashes.
std::vector<std::string> flag_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

// "The following argument was not expected: -x" (or "arguments were ... : a b").
std::string unexpected(const std::string& what, const CLI::App& command) {
  const auto colon = what.find(": ");
  const std::string words = colon == std::string::npos ? what : what.substr(colon + 2);
  const std::string first = words.substr(0, words.find(' '));
  if (first.size() < 2 || first[0] != '-') return "unexpected argument '" + first + "'";
  const std::string flag = first.substr(0, first.find('='));
  const std::string near = nearest(flag, flag_names(command));
  return "unknown option '" + flag + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?");
}

// "86400.000000" as "86400", "0.500000" as "0.5": CLI::Range prints doubles with %f.
std::string trimmed_number(std::string n) {
  if (n.find('.') == std::string::npos) return n;
  while (n.back() == '0') n.pop_back();
  if (n.back() == '.') n.pop_back();
  return n;
}

}  // namespace

std::string describe_parse_error(const CLI::ParseError& error, const CLI::App& command) {
  const std::string what = error.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) return unexpected(what, command);
  // CLI11's messages about one flag start "--flag: " (no regex: GCC 12 warns falsely
  // inside <regex> under the sanitizers).
  const auto colon = what.find(": ");
  const std::string flag = colon == std::string::npos ? "" : what.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : what.substr(colon + 2);
  const bool one_flag = !flag.empty() && flag[0] == '-' && flag.find(' ') == std::string::npos;
  // CLI::Range: "--workers: Value abc not in range 1 to 1024".
  const auto in_range = rest.find(" not in range ");
  const auto to = rest.rfind(" to ");
  if (one_flag && rest.rfind("Value ", 0) == 0 && in_range != std::string::npos && to > in_range) {
    const std::string value = rest.substr(6, in_range - 6);
    const std::string low = rest.substr(in_range + 14, to - in_range - 14), high = rest.substr(to + 4);
    const bool integers = low.find('.') == std::string::npos && high.find('.') == std::string::npos;
    return flag + " must be " + (integers ? "an integer" : "a number") + " from " + trimmed_number(low) + " to " +
           trimmed_number(high) + ", not '" + value + "'";
  }
  // A flag without its value: "--results: 1 required TEXT missing".
  if (one_flag && rest.find(" required ") != std::string::npos && rest.ends_with(" missing"))
    return flag + " needs a value";
  // "--workers: At Most 1 required but received 2".
  const std::string at_most = "At Most 1 required but received ";
  if (one_flag && rest.rfind(at_most, 0) == 0)
    return flag + " was given " + rest.substr(at_most.size()) + " times; give it once";
  // "kind is required", "--output is required": a positional by its name in capitals.
  const std::string required = " is required";
  if (what.ends_with(required) && what.find(' ') == what.size() - required.size()) {
    std::string name = what.substr(0, what.size() - required.size());
    if (name[0] != '-')
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name + required;
  }
  std::string plain = what;
  if (!plain.empty()) plain[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(plain[0])));
  return plain;
}

}  // namespace procpool::cli
