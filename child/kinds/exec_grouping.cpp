#include "child/kinds/exec_grouping.hpp"

#include <algorithm>
#include <stdexcept>

#include "child/kinds/exec_template.hpp"
#include "ipc/input_values.hpp"

namespace procpool::kinds {

namespace {

// Room for {#} and {%} of any run, which the probes below replace as job 1 in slot 1.
constexpr std::size_t kNumberSlack = 40;

std::size_t length_of(const std::vector<std::string>& args) {
  std::size_t n = 0;
  for (const std::string& a : args) n += a.size() + 1;
  return n;
}

// How long a command grows per value, measured by building it (so every replacement
// string and the shell's quoting count as they will): the command of one value less the
// command of none. An upper bound for each further value, since the words around {}
// (which -m writes once per command) count again for each.
class LineModel {
 public:
  LineModel(const std::vector<std::string>& templ, bool context, bool shell)
      : templ_(templ), context_(context), shell_(shell), base_(length_of(build("")) + kNumberSlack) {}

  std::size_t base() const { return base_; }
  std::size_t cost(const std::string& value) const {
    const std::size_t with = length_of(build(value)) + kNumberSlack;
    return std::max<std::size_t>(with > base_ ? with - base_ : 0, value.size()) + 1;
  }

 private:
  std::vector<std::string> build(const std::string& input) const {
    const TaskContext probe{0, 1, 0};
    return shell_ ? shell_command_for(templ_, input, probe, context_) : command_for(templ_, input, probe, context_);
  }

  const std::vector<std::string>& templ_;
  bool context_, shell_;
  std::size_t base_;
};

// Groups in input order, each within max_chars and of at most per_group inputs.
std::vector<std::string> fill(const std::vector<std::string>& inputs, const std::vector<std::size_t>& costs,
                              std::size_t base, std::size_t max_chars, std::size_t per_group) {
  std::vector<std::string> groups;
  std::size_t begin = 0;
  while (begin < inputs.size()) {
    std::size_t end = begin, length = base;
    while (end < inputs.size() && end - begin < per_group && (end == begin || length + costs[end] <= max_chars))
      length += costs[end++];
    groups.push_back(ipc::join_values(inputs.begin() + static_cast<std::ptrdiff_t>(begin),
                                      inputs.begin() + static_cast<std::ptrdiff_t>(end)));
    begin = end;
  }
  return groups;
}

}  // namespace

std::vector<std::string> grouped_for_command_line(const std::vector<std::string>& inputs,
                                                  const std::vector<std::string>& templ, bool context, bool shell,
                                                  std::size_t max_chars, unsigned workers) {
  const LineModel line(templ, context, shell);
  std::vector<std::size_t> costs;
  costs.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].find(ipc::kValueSeparator) != std::string::npos)
      throw std::invalid_argument(
          "-m and -X put several inputs in one command: each must be one value (not several ':::' sources, "
          "--colsep or -n)");
    costs.push_back(line.cost(inputs[i]));
    if (line.base() + costs.back() > max_chars)
      throw std::invalid_argument("input " + std::to_string(i + 1) + " makes a command of " +
                                  std::to_string(line.base() + costs.back()) + " characters, more than --max-chars " +
                                  std::to_string(max_chars));
  }
  const std::size_t by_length = fill(inputs, costs, line.base(), max_chars, inputs.size()).size();
  const std::size_t groups = std::max<std::size_t>(by_length, std::min<std::size_t>(std::max(workers, 1u), inputs.size()));
  if (groups == 0) return {};
  return fill(inputs, costs, line.base(), max_chars, (inputs.size() + groups - 1) / groups);
}

}  // namespace procpool::kinds
