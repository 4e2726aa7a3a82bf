#include "child/kinds/exec_template.hpp"

#include <cstdlib>
#include <filesystem>

namespace procpool::kinds {

namespace {

// The value with GNU parallel's modifier applied: "" itself, "." without extension, "/"
// file name, "//" folder, "/." file name without extension. False for another modifier.
bool modified(const std::string& value, std::string_view mod, std::string& out) {
  const std::filesystem::path p(value);
  if (mod.empty()) {
    out += value;
  } else if (mod == ".") {
    out += p.has_extension() ? (p.parent_path() / p.stem()).string() : value;
  } else if (mod == "/") {
    out += p.filename().string();
  } else if (mod == "//") {
    const std::string folder = p.parent_path().string();
    out += folder.empty() ? "." : folder;  // a bare name's folder, as GNU parallel
  } else if (mod == "/.") {
    out += p.stem().string();
  } else {
    return false;
  }
  return true;
}

// The input's values (several joined by NUL: supervisor/batch/input_sources.hpp).
std::vector<std::string> values_of(std::string_view input) {
  std::vector<std::string> values;
  for (std::size_t at = 0;;) {
    const std::size_t nul = input.find('\0', at);
    values.emplace_back(input.substr(at, nul == std::string_view::npos ? std::string_view::npos : nul - at));
    if (nul == std::string_view::npos) break;
    at = nul + 1;
  }
  return values;
}

class Replacer {
 public:
  Replacer(std::string_view input, const TaskContext& task, bool quote)
      : values_(values_of(input)), task_(task), quote_(quote) {
    for (const std::string& v : values_) all_ += (all_.empty() ? "" : " ") + v;
  }

  // The token inside the braces at arg[open] replaced onto out; false if it is none
  // (then the brace is just a brace).
  bool replace(std::string_view token, std::string& out) const {
    if (!quote_) return replace_plain(token, out);
    std::string value;
    if (!replace_plain(token, value)) return false;
    out += shell_quoted(value);
    return true;
  }

  bool replace_plain(std::string_view token, std::string& out) const {
    if (token == "#") {
      out += std::to_string(task_.task_id + 1);
      return true;
    }
    if (token == "%") {
      out += std::to_string(task_.slot + 1);
      return true;
    }
    std::size_t digits = 0;
    while (digits < token.size() && token[digits] >= '0' && token[digits] <= '9') ++digits;
    const std::string_view mod = token.substr(digits);
    if (digits == 0) return modified(all_, mod, out);
    const unsigned long n = std::strtoul(std::string(token.substr(0, digits)).c_str(), nullptr, 10);
    if (n == 0) return false;
    static const std::string none;
    return modified(n <= values_.size() ? values_[n - 1] : none, mod, out);  // past the values: empty
  }

  std::string apply(const std::string& arg, bool* used) const {
    std::string out;
    out.reserve(arg.size());
    for (std::size_t i = 0; i < arg.size();) {
      const std::size_t close = arg[i] == '{' ? arg.find('}', i + 1) : std::string::npos;
      if (close != std::string::npos && close - i <= 12 &&
          replace(std::string_view(arg).substr(i + 1, close - i - 1), out)) {
        *used = true;
        i = close + 1;
      } else {
        out += arg[i++];
      }
    }
    return out;
  }

  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
  std::string all_;
  const TaskContext& task_;
  bool quote_;
};

}  // namespace

std::vector<std::string> command_for(const std::vector<std::string>& templ, std::string_view input,
                                     const TaskContext& task) {
  const Replacer r(input, task, false);
  std::vector<std::string> args;
  args.reserve(templ.size() + r.values().size());
  bool used = false;
  for (const std::string& a : templ) args.push_back(r.apply(a, &used));
  if (!used) args.insert(args.end(), r.values().begin(), r.values().end());
  return args;
}

std::vector<std::string> shell_command_for(const std::vector<std::string>& templ, std::string_view input,
                                           const TaskContext& task) {
  std::string line;
  for (const std::string& word : templ) line += (line.empty() ? "" : " ") + word;
  const Replacer r(input, task, true);
  bool used = false;
  std::string script = r.apply(line, &used);
  if (!used)
    for (const std::string& v : r.values()) script += " " + shell_quoted(v);
  return {"/bin/sh", "-c", std::move(script)};
}

std::string shell_quoted(const std::string& text) {
  const bool plain = !text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_./:=@%+,-") == std::string::npos;
  if (plain) return text;
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace procpool::kinds
