#include "child/kinds/links.hpp"

#include <nlohmann/json.hpp>

#include "child/kinds/media_types.hpp"

namespace procpool::kinds {

namespace {

using nlohmann::json;

struct Step {
  std::string key;
  bool each = false;  // "key[]": every element of the array at key
};

std::vector<Step> parse_path(const std::string& path) {
  std::vector<Step> steps;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Step step;
    if (part.size() >= 2 && part.compare(part.size() - 2, 2, "[]") == 0) {
      step.each = true;
      part.resize(part.size() - 2);
    }
    if (part.empty() || part.find_first_of("[]") != std::string::npos)
      throw std::invalid_argument("download option 'links-path' must be keys separated by dots, with [] after an array's key, "
                                  "like data[].link, not '" + path + "'");
    step.key = std::move(part);
    steps.push_back(std::move(step));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return steps;
}

// Walks steps[i..] from node; the object holding the final key is `holder`.
void collect(const json& node, const std::vector<Step>& steps, std::size_t i, const LinkQuery& query, Links& out,
             bool& found) {
  if (!node.is_object()) return;
  const auto it = node.find(steps[i].key);
  if (it == node.end()) return;
  const bool last = i + 1 == steps.size();
  auto visit = [&](const json& value) {
    if (!last) return collect(value, steps, i + 1, query, out, found);
    found = true;
    if (!value.is_string()) {
      ++out.invalid;
      return;
    }
    const auto type = node.find(query.type_field);
    if (!query.accept.empty() && type != node.end() && type->is_string() &&
        !kinds::media_type_accepted(type->get<std::string>(), query.accept)) {
      ++out.filtered;
      return;
    }
    out.urls.push_back(value.get<std::string>());
  };
  if (!steps[i].each) return visit(*it);
  if (!it->is_array()) return;
  for (const json& element : *it) {
    if (last) {
      found = true;
      if (element.is_string()) {
        out.urls.push_back(element.get<std::string>());
      } else {
        ++out.invalid;
      }
    } else {
      collect(element, steps, i + 1, query, out, found);
    }
  }
}

}  // namespace

Links extract_links(std::string_view json_text, const LinkQuery& query) {
  const std::vector<Step> steps = parse_path(query.path);
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what.erase(0, bracket + 2);
    throw std::runtime_error("the listing is not JSON: " + what);
  }
  Links out;
  bool found = false;
  collect(doc, steps, 0, query, out, found);
  if (!found) throw std::runtime_error("the listing has nothing at " + query.path);
  return out;
}

}  // namespace procpool::kinds
