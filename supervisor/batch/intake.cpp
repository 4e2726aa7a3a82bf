#include "supervisor/batch/intake.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace procpool::supervisor {


void read_input_lines(std::istream& in, std::vector<std::string>& out, bool null) {
  std::string line;
  while (std::getline(in, line, null ? '\0' : '\n')) {
    if (!null && !line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(std::move(line));
  }
}

std::vector<std::string> read_input_file(const std::string& path, bool null) {
  std::vector<std::string> out;
  if (path == "-") {
    if (fcntl(STDIN_FILENO, F_GETFD) == -1) throw std::runtime_error("cannot read inputs from stdin: it is closed");
    read_input_lines(std::cin, out, null);
    if (std::cin.bad()) throw std::runtime_error("error reading inputs from stdin");
    return out;
  }
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read input file " + path + ": " + std::strerror(errno));
  read_input_lines(file, out, null);
  if (file.bad()) throw std::runtime_error("error reading input file " + path + ": " + std::strerror(errno));
  return out;
}

}  // namespace procpool::supervisor
