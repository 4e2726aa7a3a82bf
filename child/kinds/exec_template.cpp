#include "child/kinds/exec_template.hpp"

#include <array>
#include <filesystem>
#include <utility>

namespace procpool::kinds {

namespace {

struct Replacements {
  std::array<std::pair<std::string_view, std::string>, 7> table;

  Replacements(std::string_view input, const TaskContext& task) {
    const std::filesystem::path p{std::string(input)};
    std::string folder = p.parent_path().string();
    if (folder.empty()) folder.push_back('.');  // a bare name
    const std::string stem = p.stem().string();
    // Longest tokens first: "{/.}" before "{/}", "{//}" before "{/}".
    table = {{{"{/.}", stem},
              {"{//}", std::move(folder)},
              {"{/}", p.filename().string()},
              {"{.}", p.has_extension() ? (p.parent_path() / stem).string() : std::string(input)},
              {"{#}", std::to_string(task.task_id + 1)},
              {"{%}", std::to_string(task.slot + 1)},
              {"{}", std::string(input)}}};
  }

  // arg with every token replaced; *used set when it held one.
  std::string apply(const std::string& arg, bool* used) const {
    std::string out;
    out.reserve(arg.size());
    for (std::size_t i = 0; i < arg.size();) {
      bool replaced = false;
      if (arg[i] == '{')
        for (const auto& [token, value] : table)
          if (arg.compare(i, token.size(), token) == 0) {
            out += value;
            i += token.size();
            replaced = *used = true;
            break;
          }
      if (!replaced) out += arg[i++];
    }
    return out;
  }
};

}  // namespace

std::vector<std::string> command_for(const std::vector<std::string>& templ, std::string_view input,
                                     const TaskContext& task) {
  const Replacements r(input, task);
  std::vector<std::string> args;
  args.reserve(templ.size() + 1);
  bool used = false;
  for (const std::string& a : templ) args.push_back(r.apply(a, &used));
  if (!used) args.emplace_back(input);
  return args;
}

}  // namespace procpool::kinds
