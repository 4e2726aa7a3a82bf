#pragma once
// exec's spool, the contract between its two sides in `run`: each attempt of each job
// writes the command's stdout and stderr into files of a private folder that run's printer
// made (child/kinds/exec_printer.hpp), and the printer copies them out when the job has
// ended and removes them. Only the worker writes a file, and only while its job runs; only
// the printer removes one, once the job's result is in (or to read it while it runs, with
// --line-buffer, it only reads).
#include <cstdint>
#include <string>
#include <utility>

namespace procpool::kinds {

enum class Stream { out = 1, err = 2 };

// The worker's side: the two files a job's command writes to. A worker keeps one pair,
// named by its pid, for as long as its commands write nothing (most write nothing to one
// of the two, `true` to both: no file made or removed per job); a job that wrote has its
// file renamed to the job's name when it ends, and the next job gets a new one. Should
// the worker die mid-job (a timeout, a crash), what its command wrote so far is in the
// pid's files, which the printer reads for that job's result. With --line-buffer, whose
// printer reads the files while they grow, each job's are named for the job from the start.
class SpoolPair {
 public:
  SpoolPair(std::string folder, bool named_per_job) : folder_(std::move(folder)), per_job_(named_per_job) {}
  ~SpoolPair();
  SpoolPair(const SpoolPair&) = delete;
  SpoolPair& operator=(const SpoolPair&) = delete;

  // Both files ready for this attempt; false (errno set) when one cannot be made.
  bool open_for(uint64_t task_id, uint32_t attempt);
  int fd(Stream s) const { return fds_[s == Stream::out ? 0 : 1]; }
  uint64_t bytes() const;  // written so far, both together
  // The attempt is over: what it wrote is handed to the printer under the job's names.
  void hand_over();
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  bool per_job_;
  int fds_[2] = {-1, -1};
  uint64_t task_id_ = 0;
  uint32_t attempt_ = 0;
};

inline std::string spool_file(const std::string& folder, uint64_t task_id, uint32_t attempt, Stream stream) {
  return folder + "/" + std::to_string(task_id) + "." + std::to_string(attempt) +
         (stream == Stream::out ? ".out" : ".err");
}

// A worker's own pair, which holds its running job's output until the job ends.
inline std::string worker_spool_file(const std::string& folder, long pid, Stream stream) {
  return folder + "/p" + std::to_string(pid) + (stream == Stream::out ? ".out" : ".err");
}

}  // namespace procpool::kinds
