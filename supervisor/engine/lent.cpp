// The pool lent to another thread while the loop is blocked in epoll (the C++ API's
// waiting thread): it looks for results itself, so that a result reaches the thread
// that wants it with one wake-up, the worker's ring of that thread, rather than two
// (the loop's, then the loop waking the waiter).
//
// Who is woken: children ring wake_fd_ after a result only when the ring's data_ready
// flag says its reader sleeps (ipc/doorbell.hpp). The blocked loop announced that on
// every ring before it blocked. The borrower withdraws the announcements while it
// looks (children stop ringing: nobody sleeps), announces them again only for its own
// sleep in await_results(), and on leaving re-announces them for the loop, ringing it
// for what came in between: the loop is then as it left itself, asleep with every ring
// announced, or woken for results that wait.
#include <poll.h>

#include "ipc/eventfd.hpp"
#include "supervisor/engine/supervisor_impl.hpp"

namespace procpool::supervisor {

namespace {
// True if anything in the loop's epoll set is ready now (a post, an exit, a signal, the
// timer, a result's ring). An epoll fd polls readable while any of its fds is ready.
bool loop_has_events(int epoll_fd, int timeout_ms) {
  pollfd p{epoll_fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) > 0;
}
}  // namespace

void Supervisor::watch_results() {
  for (ChildSlot& slot : impl_->slots_)
    if (reads_results(slot)) slot.results.end_sleep();
}

bool Supervisor::collect_now() {
  if (!impl_->collect()) return false;
  impl_->dispatch();  // the rings that answered have room again
  return true;
}

bool Supervisor::await_results(int timeout_ms) {
  Impl& p = *impl_;
  // Drained before announcing: a ring counted before is stale (its result is either
  // collected already or seen by the re-check below); one after the announcement stays.
  ipc::eventfd_drain(p.wake_fd_);
  bool ready = false;
  for (ChildSlot& slot : p.slots_)
    if (reads_results(slot) && !slot.results.prepare_sleep()) ready = true;
  if (!ready) loop_has_events(p.epoll_fd_, timeout_ms);
  ipc::eventfd_drain(p.wake_fd_);
  for (ChildSlot& slot : p.slots_)
    if (reads_results(slot)) slot.results.end_sleep();
  // With the results' rings drained, what still makes the epoll set readable is the loop's.
  return !loop_has_events(p.epoll_fd_, 0);
}

void Supervisor::return_results_watch() {
  bool waiting = false;
  for (ChildSlot& slot : impl_->slots_)
    if (reads_results(slot) && !slot.results.prepare_sleep()) waiting = true;
  if (waiting) ipc::eventfd_ring(impl_->wake_fd_);
}

}  // namespace procpool::supervisor
