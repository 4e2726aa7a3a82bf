#include "supervisor/batch/input_sources.hpp"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include "supervisor/batch/intake.hpp"

namespace procpool::supervisor {

namespace {

bool is_marker(const std::string& w) { return w == ":::" || w == "::::" || w == ":::+" || w == "::::+"; }

std::string joined(const std::vector<std::string>& values) { return ipc::join_values(values.begin(), values.end()); }

// Sources linked value by value: as many as the longest, the shorter ones wrapping round
// (as GNU parallel's --link does).
std::vector<std::vector<std::string>> linked(const std::vector<const InputSource*>& group) {
  std::size_t longest = 0;
  for (const InputSource* s : group) longest = std::max(longest, s->values.size());
  std::vector<std::vector<std::string>> rows(longest);
  for (std::size_t i = 0; i < longest; ++i)
    for (const InputSource* s : group)
      if (!s->values.empty()) rows[i].push_back(s->values[i % s->values.size()]);
  return rows;
}

// Every combination of the groups' rows, the first group slowest.
std::vector<std::vector<std::string>> combinations(const std::vector<std::vector<std::vector<std::string>>>& groups) {
  std::vector<std::vector<std::string>> out{{}};
  for (const auto& rows : groups) {
    std::vector<std::vector<std::string>> next;
    next.reserve(out.size() * rows.size());
    for (const auto& prefix : out)
      for (const auto& row : rows) {
        next.push_back(prefix);
        next.back().insert(next.back().end(), row.begin(), row.end());
      }
    out = std::move(next);
  }
  return out;
}

}  // namespace

std::vector<InputSource> take_sources(std::vector<std::string>& words, const InputShape& shape) {
  const auto first = std::find_if(words.begin(), words.end(), is_marker);
  std::vector<InputSource> sources;
  for (auto it = first; it != words.end();) {
    const std::string marker = *it++;
    const auto end = std::find_if(it, words.end(), is_marker);
    if (it == end) throw std::runtime_error("'" + marker + "' with nothing after it");
    InputSource source;
    source.linked = marker.back() == '+';
    if (marker.rfind("::::", 0) == 0) {
      for (; it != end; ++it) {
        std::vector<std::string> lines = read_input_file(*it, shape.null);
        source.values.insert(source.values.end(), lines.begin(), lines.end());
      }
    } else {
      source.values.assign(it, end);
    }
    it = end;
    sources.push_back(std::move(source));
  }
  words.erase(first, words.end());
  return sources;
}

std::vector<std::string> combine_sources(std::vector<std::string> given, std::vector<InputSource> sources,
                                         const InputShape& shape) {
  if (!given.empty() || sources.empty()) sources.insert(sources.begin(), InputSource{std::move(given), false});
  if (shape.max_args > 0 && sources.size() > 1)
    throw std::invalid_argument("-n/-N groups the inputs of one source; with several sources use {1} {2}");
  std::vector<std::string> out;
  if (sources.size() == 1) {
    out = std::move(sources.front().values);
  } else {
    // Groups of linked sources (all with --link), combined with each other.
    std::vector<std::vector<const InputSource*>> groups;
    for (const InputSource& s : sources) {
      if (groups.empty() || !(shape.link || s.linked)) groups.emplace_back();
      groups.back().push_back(&s);
    }
    std::vector<std::vector<std::vector<std::string>>> rows;
    rows.reserve(groups.size());
    for (const auto& g : groups) rows.push_back(linked(g));
    for (const auto& values : combinations(rows)) out.push_back(joined(values));
  }
  if (!shape.colsep.empty()) {
    std::regex sep;
    try {
      sep = std::regex(shape.colsep);  // ECMAScript: Perl's syntax, as GNU parallel's
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("--colsep '" + shape.colsep + "' is not a regular expression: " + e.what());
    }
    for (std::string& input : out) {
      std::vector<std::string> values;
      std::sregex_token_iterator it(input.begin(), input.end(), sep, -1), end;
      for (; it != end; ++it) values.push_back(*it);
      input = joined(values);
    }
  }
  if (shape.max_args > 1) {
    std::vector<std::string> grouped;
    for (std::size_t i = 0; i < out.size(); i += shape.max_args)
      grouped.push_back(ipc::join_values(out.begin() + static_cast<std::ptrdiff_t>(i),
                                         out.begin() + static_cast<std::ptrdiff_t>(std::min(out.size(), i + shape.max_args))));
    out = std::move(grouped);
  }
  return out;
}

bool has_several_values(const std::vector<std::string>& inputs) {
  return std::any_of(inputs.begin(), inputs.end(),
                     [](const std::string& s) { return s.find(kValueSeparator) != std::string::npos; });
}

}  // namespace procpool::supervisor
