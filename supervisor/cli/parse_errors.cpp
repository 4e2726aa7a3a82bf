#include "supervisor/cli/parse_errors.hpp"

#include <cctype>
#include <regex>
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
  std::smatch m;
  // CLI::Range: "--workers: Value abc not in range 1 to 1024".
  static const std::regex range(R"(^(\S+): Value (.*) not in range (\S+) to (\S+)$)");
  if (std::regex_match(what, m, range)) {
    const bool integers = m[3].str().find('.') == std::string::npos && m[4].str().find('.') == std::string::npos;
    return m[1].str() + " must be " + (integers ? "an integer" : "a number") + " from " + trimmed_number(m[3].str()) +
           " to " + trimmed_number(m[4].str()) + ", not '" + m[2].str() + "'";
  }
  // A flag without its value: "--results: 1 required TEXT missing".
  static const std::regex missing(R"(^(\S+): \d+ required .* missing$)");
  if (std::regex_match(what, m, missing)) return m[1].str() + " needs a value";
  // "--workers: At Most 1 required but received 2".
  static const std::regex repeated(R"(^(\S+): At Most 1 required but received (\d+)$)");
  if (std::regex_match(what, m, repeated)) return m[1].str() + " was given " + m[2].str() + " times; give it once";
  // "kind is required", "--output is required": a positional by its name in capitals.
  static const std::regex required(R"(^(\S+) is required$)");
  if (std::regex_match(what, m, required)) {
    std::string name = m[1].str();
    if (name[0] != '-')
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name + " is required";
  }
  std::string plain = what;
  if (!plain.empty()) plain[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(plain[0])));
  return plain;
}

}  // namespace procpool::cli
