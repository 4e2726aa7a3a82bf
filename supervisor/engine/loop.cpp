// The supervisor's event loop: one thread, one epoll set over the children's wake-up
// eventfd, their pidfds, a signalfd and a 100 ms timerfd. Signal handlers never run:
// signals are read from the signalfd and acted on between batches.
#include <sched.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "ipc/clock.hpp"
#include "ipc/eventfd.hpp"
#include "ipc/sys_error.hpp"
#include "supervisor/engine/supervisor_impl.hpp"

namespace procpool::supervisor {

namespace {
constexpr uint64_t kSpinNs = 20'000;         // look again before sleeping: results are often close
constexpr uint64_t kBusyPollNs = 1'000'000;  // while busy, still look at exits/signals this often
}  // namespace

RunOutcome Supervisor::Impl::run(PoolEvents& events, Remote* remote) {
  events_ = &events;
  remote_ = remote;
  Supervisor& self = *owner_;
  if (remote != nullptr) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kRemoteTag;
    ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, remote->wake_fd(), &ev), "epoll_ctl");
  }
  for (;;) {
    bool worked = remote != nullptr && remote->take(self);
    worked |= collect();
    if (stopping_ && (!pending_.empty() || !retry_at_.empty())) cancel_pending();
    dispatch();
    if (remote == nullptr ? all_done() && fatal_.empty() : remote->finished(self)) break;
    if (!fatal_.empty() && std::all_of(slots_.begin(), slots_.end(),
                                       [](const ChildSlot& s) { return s.state == SlotState::Dead; }))
      break;
    const uint64_t now = ipc::monotonic_ns();
    if (worked) {
      if (now - last_poll_ns_ > kBusyPollNs) wait_for_events(0);
      continue;
    }
    // Idle: spin briefly (yielding, for machines with fewer cores than processes), then
    // announce sleep on every result ring, re-check them all, and block in epoll.
    while (ipc::monotonic_ns() - now < kSpinNs && !worked) {
      for (ChildSlot& slot : slots_)
        if (reads_results(slot) && slot.results.has_data()) worked = true;
      if (remote != nullptr && remote->has_posts()) worked = true;
      if (!worked) sched_yield();
    }
    if (worked) {
      // Posts a Remote left to gather keep has_posts() true without take() taking them:
      // exits, signals and the timer are still looked at, as in the busy branch above.
      if (ipc::monotonic_ns() - last_poll_ns_ > kBusyPollNs) wait_for_events(0);
      continue;
    }
    events.on_idle();
    bool ready = remote != nullptr && remote->prepare_sleep();
    for (ChildSlot& slot : slots_)
      if (reads_results(slot) && !slot.results.prepare_sleep()) ready = true;
    if (!ready) wait_for_events(100);
    for (ChildSlot& slot : slots_)
      if (reads_results(slot)) slot.results.shared()->data_ready.clear();
    if (remote != nullptr) remote->woke();
  }
  if (remote != nullptr) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, remote->wake_fd(), nullptr);
  events.on_idle();
  events_ = nullptr;
  remote_ = nullptr;
  return RunOutcome{first_signal_, fatal_};
}

void Supervisor::Impl::wait_for_events(int timeout_ms) {
  last_poll_ns_ = ipc::monotonic_ns();
  epoll_event events[16];
  const bool blocks = timeout_ms != 0 && remote_ != nullptr;
  if (blocks) remote_->before_blocking();
  const int n = epoll_wait(epoll_fd_, events, 16, timeout_ms);
  if (blocks) remote_->after_blocking();
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64;
    if (tag & kPidfdTag) {
      ChildSlot& slot = slots_[tag & 0xffffffffu];
      if (slot.process) handle_exit(slot);
    } else if (tag == kRemoteTag) {
      // Nothing to read here: Remote::take() drains its own eventfd.
    } else if (tag == static_cast<uint64_t>(wake_fd_)) {
      ipc::eventfd_drain(wake_fd_);
    } else if (tag == static_cast<uint64_t>(signal_fd_)) {
      handle_signal();
    } else if (tag == static_cast<uint64_t>(timer_fd_)) {
      ipc::eventfd_drain(timer_fd_);  // a timerfd reads as an eventfd does: a count, or EAGAIN
      on_tick();
    }
  }
}

void Supervisor::Impl::handle_signal() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    ++signals_seen_;
    if (first_signal_ == 0) first_signal_ = static_cast<int>(info.ssi_signo);
    if (events_ != nullptr) events_->on_stop_signal(static_cast<int>(info.ssi_signo), signals_seen_ > 1);
    if (signals_seen_ == 1) {
      drain();
    } else {
      kill_all_children();
    }
  }
}

// Nothing new starts; what runs now finishes; the rest is cancelled, also what waits in
// a worker's ring (taken back first, as rebalance() does).
void Supervisor::Impl::drain() {
  stopping_ = true;
  for (ChildSlot& slot : slots_) {
    if (slot.state != SlotState::Ready || slot.violated || slot.revoking || slot.inflight.empty()) continue;
    if (slot.inflight.back().seq < segment_->slot(static_cast<uint32_t>(slot.index)).control->tasks_taken()) continue;
    revoke_queue(slot);
  }
  cancel_pending();
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead) continue;
    const ipc::SlotView view = segment_->slot(static_cast<uint32_t>(slot.index));
    // Release: pairs with the child's acquire load before it takes each task.
    view.control->request_stop();
    ipc::doorbell_ring(view.to_child->data_ready);
    slot.state = SlotState::Stopping;
  }
}

void Supervisor::Impl::on_tick() {
  service_timers();
  rebalance();
  reap_orphans();
  const uint64_t now = ipc::monotonic_ns();
  if (events_ && now - last_user_tick_ns_ >= 100'000'000) {
    last_user_tick_ns_ = now;
    events_->on_tick();
  }
}

// Supervisor: the public face forwards to Impl.
Supervisor::Supervisor(PoolOptions options, std::vector<KindSpec> kinds)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(kinds))) {
  impl_->owner_ = this;
}
Supervisor::~Supervisor() = default;

unsigned Supervisor::workers() const { return impl_->target_workers_; }

uint8_t Supervisor::add_kind(KindSpec spec) { return impl_->add_kind(std::move(spec)); }

uint64_t Supervisor::submit(uint8_t kind, std::string input, uint16_t flags, uint64_t queued_ns, bool once) {
  if (kind >= impl_->kinds_.size()) throw std::out_of_range("submit: no such task kind");
  const uint64_t id = impl_->next_id_++;
  TaskEntry& task = impl_->tasks_.emplace_back();
  task.input = std::move(input);
  task.kind = kind;
  task.flags = flags;
  task.queued_ns = queued_ns != 0 ? queued_ns : ipc::monotonic_ns();
  task.once = once;
  impl_->pending_.push_back(id);  // run() cancels it if the pool is already stopping
  impl_->segment_->stats().submitted.store(impl_->next_id_, std::memory_order_relaxed);
  return id;
}

uint64_t Supervisor::recent_run_ns(uint8_t kind) const {
  return kind < impl_->run_ewma_ns_.size() ? impl_->run_ewma_ns_[kind] : 0;
}

bool Supervisor::dispatch_now() {
  impl_->dispatch();
  return impl_->pending_.empty();
}

RunOutcome Supervisor::run(PoolEvents& events) { return impl_->run(events, nullptr); }
RunOutcome Supervisor::serve(PoolEvents& events, Remote& remote) { return impl_->run(events, &remote); }

ChildSlot* Supervisor::Impl::slot_holding(uint64_t id, const Inflight** held) {
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead) continue;
    const auto it = std::find_if(slot.inflight.begin(), slot.inflight.end(), [id](const Inflight& t) { return t.id == id; });
    if (it == slot.inflight.end()) continue;
    if (held != nullptr) *held = &*it;
    return &slot;
  }
  return nullptr;
}

bool Supervisor::Impl::take_back(uint64_t id) {
  if (!task_entry(id).sent) return true;
  const Inflight* held = nullptr;
  ChildSlot* slot = slot_holding(id, &held);
  if (slot == nullptr || slot->state != SlotState::Ready || slot->violated || slot->revoking) return false;
  // A first look only: the child may start it any moment. revoke_queue settles that race
  // through SlotControl::revoke (ipc/slot_control.hpp states its orders), and what the
  // child started by then stays with it: task_entry(id).sent says which way it went.
  if (held->seq < segment_->slot(static_cast<uint32_t>(slot->index)).control->tasks_taken()) return false;
  revoke_queue(*slot);  // the whole queue behind what runs: the others go back to pending in order
  return !task_entry(id).sent;
}

bool Supervisor::cancel(uint64_t id, const std::string& reason) {
  Impl& p = *impl_;
  if (id < p.first_id_ || id >= p.next_id_) return false;
  if (p.task_entry(id).done || !p.take_back(id)) return false;
  p.finish_task(id, ipc::Status::cancelled, reason, nullptr);  // dispatch skips it later
  if (!p.pending_.empty()) p.dispatch();  // what was taken back with it goes out again
  return true;
}

bool Supervisor::kill(uint64_t id, const std::string& reason) {
  Impl& p = *impl_;
  if (id < p.first_id_ || id >= p.next_id_ || p.task_entry(id).done) return false;
  if (cancel(id, reason)) return true;
  ChildSlot* slot = p.slot_holding(id);
  if (slot == nullptr || !slot->process) return false;
  if (slot->kill_reason != KillReason::None) return true;  // already on its way out
  slot->kill_reason = KillReason::Cancel;
  slot->kill_target = id;
  slot->kill_detail = reason;
  p.kill_tree(*slot);
  return true;
}

std::string Supervisor::start_up() {
  Impl& p = *impl_;
  struct Discard final : PoolEvents {
    void on_result(const Completion&) override {}
  } discard;
  p.events_ = &discard;
  auto all_ready = [&] {
    return std::all_of(p.slots_.begin(), p.slots_.end(),
                       [](const ChildSlot& s) { return s.retired || s.state == SlotState::Ready; });
  };
  while (!all_ready() && p.fatal_.empty()) {
    p.collect();
    if (!all_ready()) p.wait_for_events(10);
  }
  p.events_ = nullptr;
  return p.fatal_;
}

uint64_t Supervisor::unfinished() const { return impl_->next_id_ - impl_->done_count_; }
bool Supervisor::stopping() const { return impl_->stopping_; }

std::string Supervisor::waiting_for() const {
  const Impl& p = *impl_;
  const bool running = std::any_of(p.slots_.begin(), p.slots_.end(), [](const ChildSlot& s) { return !s.inflight.empty(); });
  return running || p.pending_.empty() ? std::string() : p.admission_.waiting_for();
}

void Supervisor::halt(bool kill_running) {
  impl_->drain();
  if (kill_running) impl_->kill_all_children();
}
const std::string& Supervisor::segment_name() const { return impl_->segment_->name(); }
const std::string& Supervisor::containment() const { return impl_->containment_->description(); }

void Supervisor::shutdown() {
  // Every task has its result by now unless a run was interrupted; whatever is left is
  // reported cancelled to nobody.
  struct Discard final : PoolEvents {
    void on_result(const Completion&) override {}
  } discard;
  impl_->events_ = &discard;
  impl_->stop_children_gracefully();
  impl_->events_ = nullptr;
}

std::vector<WorkerStats> Supervisor::worker_stats() const {
  std::vector<WorkerStats> out;
  for (const ChildSlot& slot : impl_->slots_)
    out.push_back({slot.index, slot.process ? slot.process->pid() : 0, slot.busy_ns, slot.tasks_done, slot.restarts});
  return out;
}

uint64_t Supervisor::restarts() const { return impl_->restarts_; }
const std::vector<uint64_t>& Supervisor::respawn_latencies_ns() const { return impl_->respawn_latencies_; }

}  // namespace procpool::supervisor
