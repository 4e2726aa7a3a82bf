#include "supervisor/batch/resume.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace procpool::supervisor {

namespace {
// The length of fd's text up to and with its last newline (what is after it is a line cut
// short by a killed run), read backwards a block at a time; -1 on a read error.
off_t complete_lines_length(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return -1;
  char block[4096];
  for (off_t end = st.st_size; end > 0;) {
    const off_t begin = end > static_cast<off_t>(sizeof block) ? end - static_cast<off_t>(sizeof block) : 0;
    const ssize_t got = ::pread(fd, block, static_cast<std::size_t>(end - begin), begin);
    if (got != end - begin) return -1;
    for (ssize_t i = got; i > 0; --i)
      if (block[i - 1] == '\n') return begin + i;
    end = begin;
  }
  return 0;
}
}  // namespace

std::map<std::string, std::size_t> finished_inputs(const std::string& path, const std::string& kind,
                                                   std::size_t* skipped) {
  std::map<std::string, std::size_t> done;
  *skipped = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return done;
    throw std::runtime_error("cannot read results file " + path + ": " + std::strerror(errno));
  }
  // Line by line, never the whole file at once: a results file of ten million lines is
  // gigabytes, and resuming must not need that much memory.
  const off_t complete = complete_lines_length(fd);
  ::close(fd);
  if (complete < 0) throw std::runtime_error("cannot read results file " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && st.st_size != complete && truncate(path.c_str(), complete) != 0)
    throw std::runtime_error("cannot cut the partial last line of " + path + ": " + std::strerror(errno));
  std::ifstream lines(path, std::ios::binary);
  if (!lines) throw std::runtime_error("cannot read results file " + path + ": " + std::strerror(errno));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("input") || !j["input"].is_string()) {
      ++*skipped;
      continue;
    }
    // value() throws when a field has another type ("kind": 0, found by fuzz_resume):
    // such a line is as unreadable as any other.
    const auto field = [&](const char* name) {
      const auto it = j.find(name);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (field("kind") == kind && field("status") == "ok") ++done[j["input"].get<std::string>()];
  }
  return done;
}

bool take_finished(std::map<std::string, std::size_t>& finished, const std::string& input) {
  const auto it = finished.find(input);
  if (it == finished.end()) return false;
  if (--it->second == 0) finished.erase(it);  // what is left to skip shrinks as it is met
  return true;
}

std::vector<std::string> without_finished(const std::vector<std::string>& inputs,
                                          std::map<std::string, std::size_t> finished) {
  std::vector<std::string> out;
  for (const std::string& input : inputs)
    if (!take_finished(finished, input)) out.push_back(input);
  return out;
}

}  // namespace procpool::supervisor
