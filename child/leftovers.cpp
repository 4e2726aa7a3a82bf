#include "child/leftovers.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ipc/process_tree.hpp"

namespace procpool {
namespace {

constexpr int kRounds = 100;  // each kills what the last round's deaths handed back to us

}  // namespace

void Leftovers::keep_current() {
  // Unchecked: it fails only on kernels before 3.4, and then orphans go to init as before.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  kept_ = ipc::own_children();
}

void Leftovers::after_task(uint64_t now_ns, uint64_t ran_ns) {
  if (ran_ns < kLongNs && now_ns - last_ns_ < kPeriodNs) return;
  last_ns_ = now_ns;
  sweep();
}

void Leftovers::before_sleep(uint64_t now_ns) {
  last_ns_ = now_ns;
  sweep();
}

void Leftovers::sweep() {
  for (int round = 0; round < kRounds; ++round) {
    int status = 0;
    const pid_t reaped = waitpid(-1, &status, WNOHANG);
    if (reaped > 0) continue;              // a zombie left behind: gone now
    if (reaped < 0 && errno == ECHILD) return;  // no child at all: the usual, one system call
    if (reaped < 0 && errno == EINTR) continue;
    bool killed = false;
    for (pid_t pid : ipc::own_children())
      if (std::find(kept_.begin(), kept_.end(), pid) == kept_.end()) killed |= kill(pid, SIGKILL) == 0;
    if (!killed) return;  // only the kept ones live
    const timespec ts{0, 200'000};  // let the killed exit, then reap them (and adopt theirs)
    nanosleep(&ts, nullptr);
  }
}

}  // namespace procpool
