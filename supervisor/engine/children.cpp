// Children: start, exit, recovery of what a dead child held, crash-loop limit, stop.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ipc/child_args.hpp"
#include "ipc/clock.hpp"
#include "ipc/eventfd.hpp"
#include "ipc/sys_error.hpp"
#include "supervisor/engine/supervisor_impl.hpp"
#include "supervisor/engine/usable_cores.hpp"

namespace procpool::supervisor {

Supervisor::Impl::Impl(PoolOptions options, std::vector<KindSpec> kinds)
    : options_(std::move(options)), kinds_(std::move(kinds)), base_kinds_(kinds_.size()) {
  if (kinds_.empty() || kinds_.size() > 255) throw std::invalid_argument("a pool needs 1 to 255 task kinds");
  if (options_.initializer_kind >= static_cast<int>(kinds_.size()))
    throw std::invalid_argument("the initializer names no kind of this pool");
  exe_ = options_.child_exe.empty() ? self_executable() : options_.child_exe;
  admission_ = Admission(options_.admission);
  if (options_.workers == 0) options_.workers = usable_cores();
  capacity_ = std::max(options_.workers, options_.max_workers);
  target_workers_ = options_.workers;
  apply_limit_defaults();
  define_kinds();
  run_ewma_ns_.assign(kinds_.size(), 0);
  run_samples_.resize(kinds_.size());
  run_sample_next_.assign(kinds_.size(), 0);

  ipc::remove_stale_segments();
  // The containment first: the segment's header names it from the start.
  containment_ = std::make_unique<Containment>(options_.containment, capacity_, options_.handle_signals,
                                               options_.max_procs_per_child, options_.hard_memory_per_child);
  segment_ = ipc::Segment::create(capacity_, options_.ring_capacity, containment_->description());
  // A constructor that throws runs no destructor: what was opened is released here.
  try {
    open_loop_fds();
    slots_.reserve(capacity_);
    update_tick_period();
    for (unsigned i = 0; i < options_.workers; ++i) add_slot();
    for (ChildSlot& slot : slots_) spawn(slot);
  } catch (...) {
    release();
    throw;
  }
}

// The loop's wake-ups: signals (for the command line), children's results, timers.
void Supervisor::Impl::open_loop_fds() {
  if (options_.handle_signals) {
    // SIGINT/SIGTERM arrive through a signalfd: the loop acts on them between batches.
    // Children unblock them again at start (a blocked mask survives exec).
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    ipc::check_pthread(pthread_sigmask(SIG_BLOCK, &mask, nullptr), "pthread_sigmask");
    signal_fd_ = ipc::check_sys(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd");
  }
  epoll_fd_ = ipc::check_sys(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
  // Not close-on-exec: every child inherits it to wake us.
  wake_fd_ = ipc::check_sys(eventfd(0, EFD_NONBLOCK), "eventfd");
  timer_fd_ = ipc::check_sys(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), "timerfd_create");
  for (int fd : {wake_fd_, signal_fd_, timer_fd_}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(fd);
    ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
  }
}

// Every limit has a default; called again when a reconfigure brings new options.
void Supervisor::Impl::apply_limit_defaults() {
  if (options_.max_restarts == 0) options_.max_restarts = std::max(20u, 2 * options_.workers);
  memory_limits_given_ = options_.max_memory_per_child != 0 || options_.hard_memory_per_child != 0;
  if (options_.max_memory_per_child != 0 && options_.hard_memory_per_child == 0)
    options_.hard_memory_per_child = 2 * options_.max_memory_per_child;
  if (options_.hard_memory_per_child == 0) {  // half the machine
    options_.hard_memory_per_child = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                                     static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 2;
  }
  if (options_.max_memory_per_child == 0) options_.max_memory_per_child = options_.hard_memory_per_child;
}

// The records every new child reads first: plugins, the pool's own kinds with their
// options, initializer. Kinds added later (add_kind) follow once the child is ready, where
// one that cannot start fails its tasks instead of the child.
void Supervisor::Impl::define_kinds() {
  kind_definitions_.clear();
  for (const std::string& plugin : options_.plugins) kind_definitions_.push_back(ipc::encode_load_plugin(plugin));
  for (std::size_t i = 0; i < base_kinds_; ++i)
    kind_definitions_.push_back(ipc::encode_define_kind({static_cast<uint8_t>(i), kinds_[i].name, kinds_[i].options}));
  if (options_.initializer_kind >= 0)
    kind_definitions_.push_back(
        ipc::encode_initialize(static_cast<uint8_t>(options_.initializer_kind), options_.initializer_input));
}

void Supervisor::Impl::add_slot() {
  ChildSlot& slot = slots_.emplace_back();
  slot.index = static_cast<int>(slots_.size() - 1);
  // Close-on-exec except while this slot's own child is started (see spawn()).
  slot.task_wake_fd = ipc::check_sys(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
}

uint8_t Supervisor::Impl::add_kind(KindSpec spec) {
  for (std::size_t i = 0; i < kinds_.size(); ++i)
    if (kinds_[i].name == spec.name && kinds_[i].options == spec.options) return static_cast<uint8_t>(i);
  if (kinds_.size() >= 255)
    throw std::length_error("the pool has room for 255 kinds and option sets, and has them all");
  const auto id = static_cast<uint8_t>(kinds_.size());
  const std::string definition = ipc::encode_define_kind({id, spec.name, spec.options});
  if (definition.size() > options_.ring_capacity / 8)
    throw std::length_error("options of " + std::to_string(definition.size()) + " bytes: too long");
  kinds_.push_back(std::move(spec));
  run_ewma_ns_.push_back(0);
  run_samples_.emplace_back();
  run_sample_next_.push_back(0);
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead) continue;  // its next child gets it at spawn
    slot.unsent_definitions.push_back(definition);
    if (slot.state == SlotState::Ready) slot.concurrency.push_back(assumed_concurrency(slot, id));
  }
  return id;
}

bool Supervisor::Impl::send_definitions(ChildSlot& slot) {
  while (!slot.unsent_definitions.empty()) {
    const std::string& definition = slot.unsent_definitions.front();
    if (!slot.tasks.try_write(definition.data(), definition.size())) return false;
    slot.unsent_definitions.pop_front();
  }
  return true;
}

uint32_t Supervisor::Impl::assumed_concurrency(const ChildSlot& slot, std::size_t kind) const {
  for (std::size_t i = 0; i < slot.concurrency.size() && i < kind; ++i)
    if (kinds_[i].name == kinds_[kind].name) return slot.concurrency[i];
  return 1;
}

Supervisor::Impl::~Impl() { release(); }

void Supervisor::Impl::release() {
  kill_all_children();
  std::vector<int> fds{epoll_fd_, wake_fd_, signal_fd_, timer_fd_};
  for (const ChildSlot& slot : slots_) fds.push_back(slot.task_wake_fd);
  slots_.clear();  // reaps
  containment_.reset();  // what the workers left dies, and the cgroups go
  for (int fd : fds)
    if (fd >= 0) close(fd);
  epoll_fd_ = wake_fd_ = signal_fd_ = timer_fd_ = -1;
}

void Supervisor::Impl::spawn(ChildSlot& slot) {
  ++slot.generation;
  const ipc::SlotView view = segment_->slot(static_cast<uint32_t>(slot.index));
  // The previous child is reaped (or there was none): nobody maps these rings now.
  ipc::ring_reset(view.to_child);
  ipc::ring_reset(view.to_sup);
  view.control->prepare(slot.generation, slot.restarts);
  slot.tasks = ipc::RingProducer(view.to_child, view.to_child_data, view.ring_capacity);
  slot.results = ipc::RingConsumer(view.to_sup, view.to_sup_data, view.ring_capacity);
  for (const std::string& def : kind_definitions_)
    if (!slot.tasks.try_write(def.data(), def.size()))
      throw std::runtime_error("kind options of " + std::to_string(def.size()) + " bytes do not fit the ring");
  slot.tasks.publish();
  reset_slot(slot);
  start_process(slot);
}

// What the slot knew of its previous child, forgotten.
void Supervisor::Impl::reset_slot(ChildSlot& slot) {
  slot.inflight.clear();
  slot.isolating = false;
  slot.revoking = false;
  slot.concurrency.clear();
  slot.unsent_definitions.clear();
  for (std::size_t i = base_kinds_; i < kinds_.size(); ++i)  // after its Ready record
    slot.unsent_definitions.push_back(
        ipc::encode_define_kind({static_cast<uint8_t>(i), kinds_[i].name, kinds_[i].options}));
  slot.fatal_message.clear();
  slot.violated = slot.recycling = false;
  slot.kill_reason = KillReason::None;
  slot.kill_detail.clear();
  slot.kill_target = 0;
  slot.dispatched = 0;
  slot.respawn_at_ns = 0;
  slot.config_epoch = config_epoch_;
  ipc::eventfd_drain(slot.task_wake_fd);  // wake-ups meant for the previous child
}

// The child's arguments: PoolOptions::child_exe_args, then its own.
std::vector<std::string> Supervisor::Impl::child_argv(std::vector<std::string> own) const {
  std::vector<std::string> argv = options_.child_exe_args;
  argv.insert(argv.end(), std::make_move_iterator(own.begin()), std::make_move_iterator(own.end()));
  return argv;
}

// The child itself: started in its container, and watched through its pidfd.
void Supervisor::Impl::start_process(ChildSlot& slot) {
  // The slot's eventfd is inherited by its own child only: close-on-exec is lifted just
  // for this start (the loop thread alone starts children).
  ipc::check_sys(fcntl(slot.task_wake_fd, F_SETFD, 0), "fcntl");
  const Placement placement = containment_->prepare(static_cast<unsigned>(slot.index));
  try {
    slot.process = ChildProcess::start(
        exe_,
        child_argv(ipc::encode_child_args({segment_->name(), static_cast<uint32_t>(slot.index), slot.generation,
                                           wake_fd_, getpid(), slot.task_wake_fd})),
        // PROCPOOL_CHILD: a program that forgot procpool::init() refuses to start a pool
        // in its children instead of forking without end.
        {{"MAGICK_THREAD_LIMIT", "1"}, {"OMP_NUM_THREADS", "1"}, {"PROCPOOL_CHILD", "1"}}, placement);
  } catch (...) {
    fcntl(slot.task_wake_fd, F_SETFD, FD_CLOEXEC);  // already failing: the start's error is the one to tell
    containment_->abandon_start();
    throw;
  }
  containment_->started(static_cast<unsigned>(slot.index), slot.process->pid());
  slot.oom_kills = containment_->oom_kills(static_cast<unsigned>(slot.index));
  // A child we cannot watch would die unseen, its tasks never requeued: kill it (the
  // destructor reaps) and fail the start instead.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kPidfdTag | static_cast<uint64_t>(slot.index);
  if (fcntl(slot.task_wake_fd, F_SETFD, FD_CLOEXEC) == -1 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, slot.process->pidfd(), &ev) == -1) {
    const int err = errno;
    slot.process.reset();
    ipc::throw_sys("watching a new worker", err);
  }
  slot.state = SlotState::Starting;
  slot.spawned_ns = ipc::monotonic_ns();
}

// Called when the slot's pidfd is readable: the child has exited.
void Supervisor::Impl::handle_exit(ChildSlot& slot) {
  ipc::check_sys(epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot.process->pidfd(), nullptr), "epoll_ctl");
  const int status = slot.process->wait_exit();
  containment_->kill(static_cast<unsigned>(slot.index));  // what its tasks started dies with it
  const SlotState was = slot.state;
  note_oom_kill(slot, status);
  // Results it published before dying are whole (see ring.hpp) and kept.
  if (!slot.violated) drain(slot);
  requeue_inflight(slot, status);
  if (events_ != nullptr) {
    const bool told = was == SlotState::Stopping && slot.kill_reason == KillReason::None;
    events_->on_worker_exit({slot.index, slot.process->pid(), told && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                             slot.kill_detail.empty() ? describe_wait_status(status) : slot.kill_detail});
  }
  slot.process.reset();
  slot.state = SlotState::Dead;

  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (was == SlotState::Starting && slot.kill_reason == KillReason::None && startup_failed(slot, status)) return;
  if (stopping_ || !fatal_.empty()) return;
  if (slot.retired) {  // shrunk away: its tasks are back in the queue (requeue_inflight)
    segment_->slot(static_cast<uint32_t>(slot.index)).control->retire();
    return;
  }
  if (slot.recycling && clean_exit) {  // planned: a task or memory limit was reached
    spawn(slot);
    return;
  }
  if (slot.kill_reason == KillReason::Cancel) {  // killed to stop a task: planned too, replaced at once
    count_restart(slot);
    slot.died_ns = 0;  // planned: not a respawn latency
    schedule_respawn(slot, 0);
    return;
  }
  // A timeout kill is the limit working, bounded by the timeout itself: not a crash loop.
  if (slot.kill_reason != KillReason::Timeout && crash_loop()) {
    const std::string how =
        restart_times_ns_.size() > options_.max_restarts
            ? std::to_string(restart_times_ns_.size()) + " restarts within " +
                  std::to_string(options_.restart_period_ns / 1'000'000'000ull) + " s"
            : std::to_string(deaths_without_progress_) + " deaths with tasks waiting and none finishing";
    fail_pool("workers keep dying (" + how + "; last: " + describe_wait_status(status) + ")");
    return;
  }
  count_restart(slot);
  slot.died_ns = ipc::monotonic_ns();
  // Exponential backoff from the second crash in a row: a child that dies at once is
  // not replaced in a tight loop.
  ++slot.consecutive_crashes;
  uint64_t delay = 0;
  if (slot.consecutive_crashes >= 2) {
    delay = options_.backoff_initial_ns;
    for (uint32_t i = 2; i < slot.consecutive_crashes && delay < options_.backoff_max_ns; ++i) delay *= 2;
    delay = std::min(delay, options_.backoff_max_ns);
  }
  schedule_respawn(slot, delay);
}

void Supervisor::Impl::count_restart(ChildSlot& slot) {
  ++slot.restarts;
  ++restarts_;
  segment_->stats().restarts.store(restarts_, std::memory_order_relaxed);
}

void Supervisor::Impl::schedule_respawn(ChildSlot& slot, uint64_t delay_ns) {
  if (delay_ns == 0) {
    try {
      const uint64_t died = slot.died_ns;
      spawn(slot);
      slot.died_ns = died;
    } catch (const std::exception& e) {
      fail_pool(std::string("cannot restart a worker: ") + e.what());
    }
    return;
  }
  slot.respawn_at_ns = ipc::monotonic_ns() + delay_ns;
  update_tick_period();
}

// The tasks the dead child had started (its control block counts them) are charged with
// the crash and retried until max_attempts; tasks only queued on it go back uncharged,
// ahead of everything else, in their original order. A timeout kill charges only the
// task that timed out. A child that ran several tasks at once (an async kind) gives no
// culprit: its started tasks go back uncharged but isolated, each to run alone, so that
// a poison task then crashes by itself and its neighbours are not charged for it.
void Supervisor::Impl::requeue_inflight(ChildSlot& slot, int wait_status) {
  const ipc::SlotView view = segment_->slot(static_cast<uint32_t>(slot.index));
  // The child is reaped: these are its last words, not a live view.
  const uint64_t taken = view.control->tasks_taken();
  const std::optional<ipc::RunningTask> running = view.control->running();
  const uint64_t current = running ? running->task_id + 1 : 0, current_started = running ? running->started_ns : 0;
  const bool timeout = slot.kill_reason == KillReason::Timeout, winding_down = stopping_ || !fatal_.empty();
  const auto started_count = static_cast<std::size_t>(std::count_if(
      slot.inflight.begin(), slot.inflight.end(), [taken](const Inflight& t) { return t.seq < taken; }));
  const bool cancel_kill = slot.kill_reason == KillReason::Cancel;
  const bool shared_crash = !timeout && !cancel_kill && started_count > 1;
  const std::string cause = slot.kill_detail.empty() ? describe_wait_status(wait_status) : slot.kill_detail;
  // The running task's start and end (reaped just now), for its result; none for others.
  auto ran_ns = [&](uint64_t id) -> std::pair<uint64_t, uint64_t> {
    if (current == 0 || id != current - 1 || current_started == 0) return {0, 0};
    return {current_started, ipc::monotonic_ns()};
  };
  for (auto it = slot.inflight.rbegin(); it != slot.inflight.rend(); ++it) {
    const uint64_t id = it->id;
    TaskEntry& task = task_entry(id);
    const bool started = it->seq < taken;
    const bool culprit =
        started && !shared_crash && !cancel_kill && (!timeout || (current != 0 && id == current - 1));
    // Killed to stop it (Supervisor::kill) or the pool: cancelled, whatever else it held.
    if (cancel_kill ? id == slot.kill_target : started && slot.kill_reason == KillReason::Shutdown) {
      ++task.charged;  // it ran: an attempt, with the time it had
      finish_task(id, ipc::Status::cancelled,
                  cancel_kill ? slot.kill_detail : "cancelled while it ran: its worker was killed (" + stop_cause() + ")",
                  &slot, ran_ns(id));
      continue;
    }
    if (culprit) {
      ++task.charged;
      if ((timeout && !options_.retry_timeouts) || task.charged >= options_.max_attempts || task.once || winding_down) {
        const std::string why = cause + " on " + std::to_string(task.charged) +
                                (task.charged == 1 ? " attempt" : " attempts");
        finish_task(id, timeout ? ipc::Status::timeout : ipc::Status::crashed, why, &slot, ran_ns(id), wait_status);
        continue;
      }
    } else if (started && shared_crash) {
      if (winding_down || task.once) {
        finish_task(id, ipc::Status::crashed,
                    cause + " while it ran with " + std::to_string(started_count - 1) + " other tasks", &slot, {0, 0},
                    wait_status);
        continue;
      }
      task.isolate = true;
    } else if (winding_down) {
      finish_task(id, ipc::Status::cancelled,
                  (started ? "cancelled while it ran: its worker stopped (" : "cancelled before it started (") +
                      stop_cause() + ")",
                  nullptr);
      continue;
    }
    task.sent = false;
    pending_.push_front(id);
  }
  slot.inflight.clear();
  slot.isolating = false;
}

// A worker that dies before it is ready: an exit is its own verdict (bad kind or options,
// exec failure) and stops the pool at once; a crash signal (SIGSEGV, SIGABRT...) may be
// chance, so a few in a row, with no worker becoming ready between them, do. A kill from
// outside (SIGKILL, SIGTERM: a storm, the OOM killer) says nothing of the worker and is a
// crash like any other, under the crash-loop limit. True if the pool failed.
bool Supervisor::Impl::startup_failed(const ChildSlot& slot, int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGHUP) return false;
    if (++startup_deaths_ < kStartupDeathsToFail) return false;
  }
  std::string what = slot.fatal_message.empty() ? describe_wait_status(status) : slot.fatal_message;
  if (WIFSIGNALED(status)) {
    what = "workers die while starting (" + std::to_string(startup_deaths_) + " in a row, last " + what + ")";
    if (options_.initializer_kind >= 0)
      what += ", in the initializer '" + kinds_[static_cast<std::size_t>(options_.initializer_kind)].name + "'";
    fail_pool(what);
  } else {
    fail_pool("a worker could not start: " + what);
  }
  return true;
}

bool Supervisor::Impl::crash_loop() {
  const uint64_t now = ipc::monotonic_ns();
  restart_times_ns_.push_back(now);
  while (!restart_times_ns_.empty() && now - restart_times_ns_.front() > options_.restart_period_ns)
    restart_times_ns_.pop_front();
  // Called after the dead worker's tasks went back: pending_ holds them.
  if (!pending_.empty()) ++deaths_without_progress_;
  return restart_times_ns_.size() > options_.max_restarts || deaths_without_progress_ > options_.max_restarts;
}

void Supervisor::Impl::fail_pool(std::string message) {
  if (!fatal_.empty()) return;
  fatal_ = std::move(message);
  stopping_ = true;
  cancel_pending();
  kill_all_children();
}

// End of a run: each ready child gets a Stop record behind its queue and exits 0.
void Supervisor::Impl::stop_children_gracefully() {
  stopping_ = true;
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead || slot.state == SlotState::Stopping) continue;
    const uint8_t stop = ipc::kStopRecord;
    if (slot.state == SlotState::Ready && slot.tasks.try_write(&stop, 1)) {
      slot.tasks.publish();
      slot.state = SlotState::Stopping;
    } else {
      slot.kill_reason = KillReason::Shutdown;
      kill_tree(slot);
    }
  }
  const uint64_t deadline = ipc::monotonic_ns() + 5'000'000'000ull;
  auto alive = [&] {
    return std::any_of(slots_.begin(), slots_.end(), [](const ChildSlot& s) { return s.state != SlotState::Dead; });
  };
  while (alive()) {
    if (ipc::monotonic_ns() > deadline) kill_all_children();
    wait_for_events(50);
  }
}

// Replace a child once it has finished what it holds: no more tasks for it, and a Stop
// record behind its queue. Its clean exit then starts a successor at once.
void Supervisor::Impl::recycle(ChildSlot& slot) { ask_to_stop(slot, /*replace=*/true); }

void Supervisor::Impl::kill_all_children() {
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead || !slot.process) continue;
    slot.kill_reason = KillReason::Shutdown;
    kill_tree(slot);
  }
}

void Supervisor::Impl::kill_tree(ChildSlot& slot) {
  slot.process->kill(SIGKILL);  // through its pidfd, first: the worker is what the loop waits on
  containment_->kill(static_cast<unsigned>(slot.index));
}

void Supervisor::Impl::reap_orphans() {
  if (containment_->mode() != ContainmentMode::ProcessGroup) return;
  std::vector<pid_t> workers;
  for (const ChildSlot& slot : slots_)
    if (slot.process) workers.push_back(slot.process->pid());
  containment_->reap_orphans(workers);
}

}  // namespace procpool::supervisor
