#include "child/kinds/exec_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace procpool::kinds {

namespace {
Stream stream_of(int i) { return i == 0 ? Stream::out : Stream::err; }
}  // namespace

SpoolPair::~SpoolPair() {
  for (int i = 0; i < 2; ++i) {
    if (fds_[i] < 0) continue;
    ::close(fds_[i]);
    // Empty (a job's output was renamed away): nothing for the printer.
    if (!per_job_) ::unlink(worker_spool_file(folder_, ::getpid(), stream_of(i)).c_str());
  }
}

bool SpoolPair::open_for(uint64_t task_id, uint32_t attempt) {
  task_id_ = task_id;
  attempt_ = attempt;
  for (int i = 0; i < 2; ++i) {
    int& f = fds_[i];
    if (f >= 0) {  // kept from a job that wrote nothing; it may have seeked all the same
      if (::lseek(f, 0, SEEK_SET) == 0) continue;
      ::close(f);
      f = -1;
    }
    const std::string path = per_job_ ? spool_file(folder_, task_id, attempt, stream_of(i))
                                      : worker_spool_file(folder_, ::getpid(), stream_of(i));
    // Read back for the result's copy, hence O_RDWR.
    f = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) return false;
  }
  return true;
}

uint64_t SpoolPair::bytes() const {
  uint64_t total = 0;
  for (const int f : fds_) {
    struct stat st{};
    if (f >= 0 && ::fstat(f, &st) == 0 && st.st_size > 0) total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

void SpoolPair::hand_over() {
  for (int i = 0; i < 2; ++i) {
    int& f = fds_[i];
    if (f < 0) continue;
    if (!per_job_) {
      struct stat st{};
      if (::fstat(f, &st) == 0 && st.st_size == 0) continue;  // nothing to print: kept for the next job
      const std::string from = worker_spool_file(folder_, ::getpid(), stream_of(i));
      [[maybe_unused]] const int renamed =
          std::rename(from.c_str(), spool_file(folder_, task_id_, attempt_, stream_of(i)).c_str());
    }
    ::close(f);
    f = -1;
  }
}

}  // namespace procpool::kinds
