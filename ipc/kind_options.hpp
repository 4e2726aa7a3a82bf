#pragma once
// A task kind's options travel from the command line (or a config file) to each child as
// "key=value" lines inside a DefineKind record; this is their codec and typed reader.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace procpool {

// A kind's options: "key=value" pairs, as given on the command line or in a config file.
class KindOptions {
 public:
  static KindOptions decode(std::string_view lines);  // "key=value\n..."
  std::string encode() const;

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  bool empty() const { return values_.empty(); }
  std::string get(const std::string& key, const std::string& fallback) const;
  // An integer in [min, max]; a malformed or out-of-range value throws invalid_argument.
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  const std::map<std::string, std::string>& values() const { return values_; }

  // Readers of canonical values (ipc/kind_schema.hpp), as a kind's factory gets them:
  // checked, defaults filled in. A value missing or not canonical is a logic_error.
  bool flag(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  int64_t milliseconds(const std::string& key) const;  // of a Duration (seconds)
  std::vector<std::string> list(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace procpool
