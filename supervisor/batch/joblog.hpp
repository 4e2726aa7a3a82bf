#pragma once
// --joblog FILE: a line per task in GNU parallel's exact tab-separated format, so that
// tools written for it read procpool's:
//   Seq  Host  Starttime  JobRuntime  Send  Receive  Exitval  Signal  Command
// Seq is the input's number (1, 2, ... in the order given, kept across --resume), Host
// ":" (this machine), Starttime the start in seconds since the epoch ("%.3f"),
// JobRuntime seconds ("% 10.3f"), Send and Receive 0 (procpool moves no files), Exitval
// the command's exit status (a non-exec task's: 0 ok, 1 not), Signal the one that killed
// it, Command the command as a shell would run it (a non-exec task's: its input).
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>

namespace procpool::supervisor {

class Joblog {
 public:
  // path "+FILE" appends, as in GNU parallel, and so does --resume; else the file is
  // replaced. Created for the owner only. Throws std::runtime_error naming the file.
  Joblog(const std::string& path, bool append);
  ~Joblog();
  Joblog(const Joblog&) = delete;
  Joblog& operator=(const Joblog&) = delete;

  void add(uint64_t seq, double start_epoch_s, double runtime_s, int exitval, int signal, const std::string& command);
  void flush();

 private:
  std::FILE* file_ = nullptr;
};

// "+FILE" -> "FILE".
std::string joblog_file(const std::string& path);

// The Seqs an earlier joblog holds: every one (--resume), or only those that ended with
// exit status 0 and no signal (--resume-failed: the others run again). A missing file
// holds none; lines that are not a job's are skipped.
std::set<uint64_t> joblog_seqs(const std::string& path, bool only_succeeded);

}  // namespace procpool::supervisor
