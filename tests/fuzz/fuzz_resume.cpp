// --resume reads an earlier results file that a killed run may have cut anywhere. Checked
// on any bytes: the file is cut back to its last whole line and nothing else changes; a
// second reading finds what the first found; no line counts twice; and the inputs left to
// run are the given ones in their order, each finished one taken out once per result.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/batch/resume.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using procpool::supervisor::finished_inputs;
  using procpool::supervisor::without_finished;
  static const std::string path = "/tmp/procpool-fuzz-resume-" + std::to_string(getpid());
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  std::size_t skipped = 0;
  const auto done = finished_inputs(path, "noop", &skipped);

  const std::size_t last_newline = text.rfind('\n');
  const std::string whole_lines = last_newline == std::string::npos ? "" : text.substr(0, last_newline + 1);
  check(read_all(path) == whole_lines);
  std::size_t lines = 0, counted = 0;
  std::istringstream in(whole_lines);
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  for (const auto& [input, n] : done) counted += n;
  check(counted + skipped <= lines);

  std::size_t skipped_again = 0;
  check(finished_inputs(path, "noop", &skipped_again) == done && skipped_again == skipped);

  // Each finished input given twice, and one nobody finished.
  std::vector<std::string> inputs;
  for (const auto& [input, n] : done) inputs.insert(inputs.end(), {input, input});
  inputs.push_back("never finished \n");
  const std::vector<std::string> left = without_finished(inputs, done);
  std::map<std::string, std::size_t> given;
  for (const std::string& s : inputs) ++given[s];
  std::size_t expected = inputs.size();
  for (const auto& [input, n] : given) {
    const auto it = done.find(input);
    if (it != done.end()) expected -= it->second < n ? it->second : n;
  }
  check(left.size() == expected);
  std::size_t at = 0;  // left is inputs with some taken out: a subsequence, in order
  for (const std::string& s : left) {
    while (at < inputs.size() && inputs[at] != s) ++at;
    check(at < inputs.size());
    ++at;
  }
  return 0;
}
