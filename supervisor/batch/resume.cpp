#include "supervisor/batch/resume.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace procpool::supervisor {

std::map<std::string, std::size_t> finished_inputs(const std::string& path, const std::string& kind,
                                                   std::size_t* skipped) {
  std::map<std::string, std::size_t> done;
  *skipped = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (errno == ENOENT) return done;
    throw std::runtime_error("cannot read results file " + path + ": " + std::strerror(errno));
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  const std::size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (complete != text.size() && truncate(path.c_str(), static_cast<off_t>(complete)) != 0)
    throw std::runtime_error("cannot cut the partial last line of " + path + ": " + std::strerror(errno));
  std::istringstream lines(text.substr(0, complete));
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

std::vector<std::string> without_finished(const std::vector<std::string>& inputs,
                                          std::map<std::string, std::size_t> finished) {
  std::vector<std::string> out;
  for (const std::string& input : inputs) {
    auto it = finished.find(input);
    if (it != finished.end() && it->second > 0) {
      --it->second;
      continue;
    }
    out.push_back(input);
  }
  return out;
}

}  // namespace procpool::supervisor
