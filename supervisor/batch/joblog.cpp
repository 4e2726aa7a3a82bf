#include "supervisor/batch/joblog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <vector>

namespace procpool::supervisor {

std::string joblog_file(const std::string& path) { return !path.empty() && path[0] == '+' ? path.substr(1) : path; }

Joblog::Joblog(const std::string& path, bool append) {
  const std::string name = joblog_file(path);
  append = append || name != path;
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd >= 0) file_ = fdopen(fd, "a");
  if (fd >= 0 && file_ == nullptr) ::close(fd);
  if (file_ == nullptr) throw std::runtime_error("cannot write the joblog " + name + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) == 0 && st.st_size == 0)
    std::fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n", file_);
}

Joblog::~Joblog() {
  if (file_ != nullptr) std::fclose(file_);
}

void Joblog::add(uint64_t seq, double start_epoch_s, double runtime_s, int exitval, int signal,
                 const std::string& command) {
  std::string line = command;
  for (char& c : line)
    if (c == '\n' || c == '\t') c = ' ';  // one line, nine fields, whatever the command holds
  std::fprintf(file_, "%llu\t:\t%.3f\t% 10.3f\t0\t0\t%d\t%d\t%s\n", static_cast<unsigned long long>(seq), start_epoch_s,
               runtime_s, exitval, signal, line.c_str());
}

void Joblog::flush() { std::fflush(file_); }

std::set<uint64_t> joblog_seqs(const std::string& path, bool only_succeeded) {
  std::set<uint64_t> seqs;
  std::ifstream in(joblog_file(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string f; fields.size() < 8 && std::getline(split, f, '\t');) fields.push_back(f);
    if (fields.size() < 8 || fields[0].empty() || fields[0].find_first_not_of("0123456789") != std::string::npos) continue;
    const bool succeeded = fields[6] == "0" && fields[7] == "0";
    if (!only_succeeded || succeeded) seqs.insert(std::strtoull(fields[0].c_str(), nullptr, 10));
  }
  return seqs;
}

}  // namespace procpool::supervisor
