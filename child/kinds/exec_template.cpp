#include "child/kinds/exec_template.hpp"

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "ipc/input_values.hpp"

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

// In a plain command (no shell) a word where {} stands for several values becomes one
// argument per value, as the shell splits GNU parallel's "x{}y" with 'a' 'b' into "xa"
// "by": the values are joined by this byte, which no argument can hold, and the word is
// split at it.
constexpr char kSplit = '\0';

class Replacer {
 public:
  Replacer(std::string_view input, const TaskContext& task, bool quote)
      : values_(ipc::split_values(input)), task_(task), quote_(quote) {}

  // arg with its replacement strings replaced; *used: it had one, *all: one of them is
  // {} or a modifier of it (all values). only: -X's repeated word, for that value alone.
  std::string apply(const std::string& arg, bool* used, bool* all, std::optional<std::size_t> only) const {
    std::string out;
    out.reserve(arg.size());
    for (std::size_t i = 0; i < arg.size();) {
      const std::size_t close = arg[i] == '{' ? arg.find('}', i + 1) : std::string::npos;
      if (close != std::string::npos && close - i <= 12 &&
          replace(std::string_view(arg).substr(i + 1, close - i - 1), only, out, *all)) {
        *used = true;
        i = close + 1;
      } else {
        out += arg[i++];
      }
    }
    return out;
  }

  const std::vector<std::string>& values() const { return values_; }
  bool quoted() const { return quote_; }

 private:
  // What the token inside a pair of braces stands for, appended to out; false if it is
  // none (then the brace is just a brace).
  bool replace(std::string_view token, std::optional<std::size_t> only, std::string& out, bool& all) const {
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
    if (digits == 0) {
      const std::size_t first = only ? *only : 0, last = only ? *only + 1 : values_.size();
      std::string value;
      for (std::size_t v = first; v < last; ++v) {
        value.clear();
        if (!modified(values_[v], mod, value)) return false;
        if (v > first) out += quote_ ? ' ' : kSplit;
        out += quote_ ? shell_quoted(value) : value;
      }
      all = true;
      return true;
    }
    const unsigned long n = std::strtoul(std::string(token.substr(0, digits)).c_str(), nullptr, 10);
    if (n == 0) return false;
    static const std::string none;
    std::string value;
    if (!modified(n <= values_.size() ? values_[n - 1] : none, mod, value)) return false;  // past the values: empty
    out += quote_ ? shell_quoted(value) : value;
    return true;
  }

  std::vector<std::string> values_;
  const TaskContext& task_;
  bool quote_;
};

// A template word replaced: one piece, or with -X (context) and a {} in it, the word
// once per value.
std::vector<std::string> pieces_of(const Replacer& r, const std::string& word, bool context, bool* used) {
  bool all = false;
  std::string whole = r.apply(word, used, &all, std::nullopt);
  if (!context || !all || r.values().size() < 2) return {std::move(whole)};
  std::vector<std::string> pieces;
  for (std::size_t v = 0; v < r.values().size(); ++v) pieces.push_back(r.apply(word, used, &all, v));
  return pieces;
}

}  // namespace

std::vector<std::string> command_for(const std::vector<std::string>& templ, std::string_view input,
                                     const TaskContext& task, bool context) {
  const Replacer r(input, task, false);
  std::vector<std::string> args;
  args.reserve(templ.size() + r.values().size());
  bool used = false;
  for (const std::string& word : templ)
    for (std::string& piece : pieces_of(r, word, context, &used)) {
      for (std::size_t at = 0;;) {
        const std::size_t split = piece.find(kSplit, at);
        if (split == std::string::npos) {
          args.push_back(at == 0 ? std::move(piece) : piece.substr(at));
          break;
        }
        args.push_back(piece.substr(at, split - at));
        at = split + 1;
      }
    }
  if (!used) args.insert(args.end(), r.values().begin(), r.values().end());
  return args;
}

std::vector<std::string> shell_command_for(const std::vector<std::string>& templ, std::string_view input,
                                           const TaskContext& task, bool context) {
  // -X repeats a word of the line: the line's words are what spaces part, as GNU parallel's.
  std::vector<std::string> words;
  for (const std::string& part : templ) {
    if (!context) {
      words.push_back(part);
      continue;
    }
    for (std::size_t at = 0; at <= part.size();) {
      const std::size_t space = std::min(part.find(' ', at), part.size());
      words.push_back(part.substr(at, space - at));
      at = space + 1;
    }
  }
  const Replacer r(input, task, true);
  bool used = false;
  std::string script;
  for (const std::string& word : words)
    for (const std::string& piece : pieces_of(r, word, context, &used)) script += (script.empty() ? "" : " ") + piece;
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
