// The scheduler (pending queue -> per-child task rings) and the collector (per-child
// result rings -> PoolEvents). Both run on the loop thread, in batches: one publish per
// ring per dispatch round, one release per ring per drain.
#include <sys/wait.h>

#include <algorithm>
#include <csignal>

#include "ipc/clock.hpp"
#include "ipc/status.hpp"
#include "supervisor/engine/supervisor_impl.hpp"

namespace procpool::supervisor {

using ipc::RecordType;

namespace {
// A running task older than this with tasks queued behind it, while a worker is idle:
// its queue is taken back (see rebalance). Far above a short task's run, so the end of a
// run of short tasks never revokes, and below any wait a user would see.
constexpr uint64_t kRebalanceAfterNs = 20'000'000;
}  // namespace

bool Supervisor::Impl::collect() {
  bool any = false;
  for (ChildSlot& slot : slots_)
    if (reads_results(slot)) any |= drain(slot);
  if (any) retire_finished();
  return any;
}

// A task cancelled while it waited is done with its id still in pending_ or retry_at_:
// once retired here its entry is gone, so whoever reads those ids checks id >= first_id_
// first (dispatch, finish_task).
void Supervisor::Impl::retire_finished() {
  while (!tasks_.empty() && tasks_.front().done) {
    tasks_.pop_front();
    ++first_id_;
  }
}

bool Supervisor::Impl::drain(ChildSlot& slot) {
  bool any = false;
  std::string_view record;
  for (;;) {
    const auto read = slot.results.peek(&record);
    if (read == ipc::RingConsumer::Read::Empty) break;
    if (read == ipc::RingConsumer::Read::Corrupt) {
      protocol_violation(slot, "corrupt result ring");
      return any;
    }
    handle_record(slot, record);
    if (slot.violated) return any;
    slot.results.pop();
    any = true;
  }
  if (any) slot.results.release();
  return any;
}

void Supervisor::Impl::handle_record(ChildSlot& slot, std::string_view record) {
  const auto type = ipc::record_type(record);
  if (type == RecordType::Result) {
    const auto result = ipc::decode_result(record);
    if (!result) return protocol_violation(slot, "malformed result record");
    return handle_result(slot, *result);
  }
  if (type == RecordType::Ready) {
    auto concurrency = ipc::decode_ready(record);
    if (!concurrency || concurrency->size() != base_kinds_ || slot.state != SlotState::Starting)
      return protocol_violation(slot, "malformed or unexpected ready record");
    bool many = false;
    for (uint32_t& c : *concurrency) {
      c = std::clamp<uint32_t>(c, 1, 4096);
      many |= c > 1;
    }
    // Such a child waits in its kind's event loop, where only an eventfd can wake it.
    if (many) slot.tasks.set_wake_eventfd(slot.task_wake_fd);
    slot.concurrency = std::move(*concurrency);
    for (std::size_t k = base_kinds_; k < kinds_.size(); ++k) slot.concurrency.push_back(assumed_concurrency(slot, k));
    slot.state = SlotState::Ready;
    startup_deaths_ = 0;  // workers can start: deaths from now on are not a start-up failure
    slot.progress_ns = ipc::monotonic_ns();
    if (slot.died_ns != 0) respawn_latencies_.push_back(ipc::monotonic_ns() - slot.died_ns);
    slot.died_ns = 0;
    return;
  }
  if (type == RecordType::Fatal) {
    const auto message = ipc::decode_fatal(record);
    slot.fatal_message = std::string(message ? message->substr(0, 4096) : "unknown error");
    return;  // the child exits next; handle_exit decides what it means
  }
  protocol_violation(slot, "unknown record type");
}

void Supervisor::Impl::handle_result(ChildSlot& slot, const ipc::ResultView& result) {
  const uint64_t id = result.header.task_id;
  // The id must be one this child holds: a result for anything else is a lie.
  if (!slot.inflight.empty() && slot.inflight.front().id == id) {
    slot.inflight.pop_front();  // the common case: a child answers in order
  } else {
    const auto it = std::find_if(slot.inflight.begin(), slot.inflight.end(),
                                 [id](const Inflight& t) { return t.id == id; });
    if (it == slot.inflight.end()) return protocol_violation(slot, "result for a task the worker does not hold");
    slot.inflight.erase(it);
  }
  if (slot.inflight.empty()) slot.isolating = false;

  TaskEntry& task = task_entry(id);
  const uint64_t run_ns = result.header.end_ns - result.header.start_ns;
  uint64_t& ewma = run_ewma_ns_[task.kind];
  ewma = ewma == 0 ? std::max<uint64_t>(run_ns, 1) : std::max<uint64_t>((ewma * 7 + run_ns) / 8, 1);
  // A child running many tasks at once is busy in proportion to the room it has filled.
  slot.busy_ns += run_ns / slot.concurrency[task.kind];
  ++slot.tasks_done;
  slot.consecutive_crashes = 0;
  // A task ran to its end: deaths around it are not a crash loop (empty nearly always).
  if (!restart_times_ns_.empty()) restart_times_ns_.clear();
  deaths_without_progress_ = 0;
  slot.progress_ns = result.header.end_ns;
  if (options_.timeout_percent != 0) record_run_time(task.kind, run_ns);

  Completion c;
  c.id = id;
  c.kind = task.kind;
  c.status = static_cast<ipc::Status>(result.header.status);
  c.input = task.input;
  c.output = result.output;
  c.output_is_json = (result.header.flags & ipc::kResultOutputIsJson) != 0;
  c.cpu_measured = (result.header.flags & ipc::kResultCpuNotMeasured) == 0;
  c.attempts = task.charged + task.retried + 1;
  c.worker = slot.index;
  c.pid = slot.process ? slot.process->pid() : 0;
  c.queued_ns = task.queued_ns;
  c.start_ns = result.header.start_ns;
  c.end_ns = result.header.end_ns;
  c.cpu_ns = result.header.cpu_ns;
  c.max_rss_kb = result.header.max_rss_kb;
  admission_.finished(c.max_rss_kb << 10);
  c.exit_code = result.header.exit_code;
  c.signal = result.header.signal;
  // A command the task ran was the OOM killer's choice (v1 kills the largest process, the
  // worker survives): the error says so.
  std::string error;
  if ((c.status == ipc::Status::error || c.status == ipc::Status::crashed) && !(error = oom_verdict(slot)).empty()) {
    error += ": " + std::string(c.output);
    c.output = error;
  }
  if (retry_after_error(id, task, c)) return;
  events_->on_result(c);
  task.done = true;
  std::string().swap(task.input);
  ++done_count_;
  count_done(c.status);
}

// A child that breaks the protocol is killed; its exit is then handled like a crash
// (its running task charged, its queued tasks requeued). Its ring is not read again.
void Supervisor::Impl::protocol_violation(ChildSlot& slot, const std::string& what) {
  if (slot.violated) return;
  slot.violated = true;
  slot.kill_reason = KillReason::Violation;
  slot.kill_detail = "killed for a protocol violation (" + what + ")";
  if (slot.process) kill_tree(slot);
}

// How many tasks a child may hold: what it runs at once plus a queue sized to about
// target_queue_ns of work at the kind's recent run time. Short tasks get deep queues
// (fewer wake-ups, batched publishes). Long tasks get one queued task, so a child never
// waits for the supervisor between tasks (an idle vCPU is slow to wake and comes back
// with cold caches: measured, 10% slower thumbnails) -- but only while there are more
// pending tasks than children: at the end of a run the last tasks go to children that
// are free, instead of queueing behind a long task while another child has nothing. The
// same holds at the start, while a kind's run time is not known yet.
uint32_t Supervisor::Impl::prefetch_limit(const ChildSlot& slot, uint8_t kind) const {
  const uint32_t conc = slot.concurrency[kind];
  const uint64_t ewma = run_ewma_ns_[kind];
  uint64_t queue = 1;
  if (ewma != 0) queue = std::clamp<uint64_t>(options_.target_queue_ns * conc / ewma, 1, options_.max_prefetch);
  // Few tasks left (or at the start, of unknown length): no queue, so that a worker that
  // is still starting gets its share instead of waiting behind the first ready one.
  if ((ewma == 0 || ewma >= options_.target_queue_ns) && pending_.size() <= target_workers_) queue = 0;
  return conc + static_cast<uint32_t>(queue);
}

void Supervisor::Impl::dispatch() {
  if (pending_.empty() || stopping_) return;
  const bool admitting = admission_.active();
  // Idle workers first: a round-robin from the first slot would queue a short task behind
  // a long one that runs there while another worker waits for work (rebalance() would take
  // it back, but only at its next tick).
  for (ChildSlot& slot : slots_)
    if (!pending_.empty() && slot.inflight.empty()) send_next(slot, admitting);
  // Then round-robin, one task per child per round, so a short queue spreads evenly.
  bool progress = true;
  while (progress && !pending_.empty()) {
    progress = false;
    for (ChildSlot& slot : slots_) {
      if (pending_.empty()) break;
      progress |= send_next(slot, admitting);
    }
  }
  for (ChildSlot& slot : slots_)
    if (slot.tasks.has_unpublished()) slot.tasks.publish();
}

// Writes the first pending task to slot's ring when the slot may take it now; true if the
// pending queue moved (sent, or a task dropped from it).
bool Supervisor::Impl::send_next(ChildSlot& slot, bool admitting) {
  if (slot.state != SlotState::Ready || slot.violated || slot.retired) return false;
  if (slot.revoking) {  // nothing is written until the child dropped what was taken back
    if (segment_->slot(static_cast<uint32_t>(slot.index)).control->revoking()) return false;
    slot.revoking = false;
  }
  if (!send_definitions(slot)) return false;  // its ring is full: kinds first, tasks later
  const uint64_t id = pending_.front();
  if (id < first_id_ || task_entry(id).done) {  // cancelled while it waited (and retired since)
    pending_.pop_front();
    return true;
  }
  TaskEntry& task = task_entry(id);
  if (task.input.size() + sizeof(ipc::TaskHeader) > slot.tasks.max_payload()) {
    pending_.pop_front();
    finish_task(id, ipc::Status::error,
                "input of " + std::to_string(task.input.size()) + " bytes exceeds the limit of " +
                    std::to_string(slot.tasks.max_payload() - sizeof(ipc::TaskHeader)) + " bytes",
                nullptr);
    return true;
  }
  if (slot.inflight.size() >= prefetch_limit(slot, task.kind) || slot.isolating) return false;
  if (admitting && (!slot.inflight.empty() || !admission_.open(ipc::monotonic_ns()))) return false;
  if (task.isolate && !slot.inflight.empty()) return false;  // waits for an empty child
  if (task.revoked && slot.inflight.size() >= slot.concurrency[task.kind]) return false;  // no queue for it
  ipc::TaskHeader header{};
  header.type = static_cast<uint8_t>(RecordType::Task);
  header.kind = task.kind;
  header.attempt = task.charged + task.retried + 1;
  header.task_id = id;
  header.flags = task.flags;
  if (!slot.tasks.try_write(&header, sizeof header, task.input.data(), task.input.size())) return false;
  pending_.pop_front();
  task.sent = true;
  if (admitting) admission_.started(ipc::monotonic_ns());
  if (slot.inflight.empty()) slot.progress_ns = ipc::monotonic_ns();  // the stall clock starts with work
  slot.inflight.push_back({id, slot.dispatched++});
  slot.isolating = task.isolate;
  if (options_.max_tasks_per_child != 0 && slot.dispatched >= options_.max_tasks_per_child) recycle(slot);
  return true;
}

// The queue depth comes from the kind's recent run times, which a long task among short
// ones belies: tasks queued behind it wait while another worker is idle (after a crash,
// the worker that stayed took all that was requeued). At each tick, when a worker is idle
// with nothing pending, the queue of every worker whose running task has run for more
// than kRebalanceAfterNs is taken back (SlotControl::revoke) and dispatched again, each
// task only to a worker that starts it at once.
void Supervisor::Impl::rebalance() {
  if (!pending_.empty() || stopping_) return;
  const bool idle = std::any_of(slots_.begin(), slots_.end(), [](const ChildSlot& s) {
    return s.state == SlotState::Ready && !s.retired && !s.violated && !s.revoking && s.inflight.empty();
  });
  if (!idle) return;
  const uint64_t now = ipc::monotonic_ns();
  bool revoked = false;
  for (ChildSlot& slot : slots_) {
    if (slot.state != SlotState::Ready || slot.violated || slot.revoking || slot.inflight.empty()) continue;
    const ipc::SlotControl& control = *segment_->slot(static_cast<uint32_t>(slot.index)).control;
    if (slot.inflight.back().seq < control.tasks_taken()) continue;  // all it holds has started
    const std::optional<ipc::RunningTask> running = control.running();
    if (!running || now < running->started_ns || now - running->started_ns < kRebalanceAfterNs) continue;
    revoke_queue(slot);
    revoked = true;
  }
  if (revoked) dispatch();
}

void Supervisor::Impl::revoke_queue(ChildSlot& slot) {
  if (slot.tasks.has_unpublished()) slot.tasks.publish();  // what is revoked must be in the ring
  ipc::SlotControl& control = *segment_->slot(static_cast<uint32_t>(slot.index)).control;
  const uint64_t taken = control.revoke();
  if (taken >= slot.dispatched) {  // it started them all meanwhile
    control.withdraw_revocation(taken);
    return;
  }
  slot.revoking = true;
  // Sent in sequence order: the back holds the revoked ones, which go back to the front
  // of the queue in their order.
  while (!slot.inflight.empty() && slot.inflight.back().seq >= taken) {
    TaskEntry& task = task_entry(slot.inflight.back().id);
    task.sent = false;
    task.revoked = true;
    pending_.push_front(slot.inflight.back().id);
    slot.inflight.pop_back();
  }
  slot.dispatched = taken;  // the child counts on from its claims: so do the sequence numbers
  slot.isolating = std::any_of(slot.inflight.begin(), slot.inflight.end(),
                               [this](const Inflight& t) { return task_entry(t.id).isolate; });
}

void Supervisor::Impl::finish_task(uint64_t id, ipc::Status status, std::string_view text, const ChildSlot* slot,
                                   std::pair<uint64_t, uint64_t> ran_ns, int wait_status) {
  if (id < first_id_) return;  // done and retired already (retire_finished)
  TaskEntry& task = task_entry(id);
  if (task.done) return;
  Completion c;
  c.id = id;
  c.kind = task.kind;
  c.status = status;
  c.input = task.input;
  c.output = text;
  c.attempts = task.charged + task.retried;
  c.worker = slot ? slot->index : -1;
  c.worker_died = slot != nullptr;
  c.pid = slot && slot->process ? slot->process->pid() : 0;
  c.queued_ns = task.queued_ns;
  c.start_ns = ran_ns.first;
  c.end_ns = std::max(ran_ns.first, ran_ns.second);
  if (wait_status >= 0 && WIFSIGNALED(wait_status)) c.signal = WTERMSIG(wait_status);
  if (wait_status >= 0 && WIFEXITED(wait_status)) c.exit_code = WEXITSTATUS(wait_status);
  events_->on_result(c);
  task.done = true;
  std::string().swap(task.input);
  ++done_count_;
  count_done(c.status);
}

// For procpool status: the supervisor is the counters' only writer.
void Supervisor::Impl::count_done(ipc::Status status) {
  std::atomic<uint64_t>& n = segment_->stats().done[static_cast<int>(status)];
  n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// One wording for every task a stop cancels, whatever stopped the pool.
std::string Supervisor::Impl::stop_cause() const {
  if (first_signal_ != 0) return ipc::signal_name(first_signal_);
  if (!fatal_.empty()) return "the pool failed: " + fatal_;
  return "the pool stopped";
}

// A task that ended in error (exec: its command exited non-zero or was killed) runs again
// while it has retries left, after a delay that doubles with each: nothing is reported
// until its last run. Not once the pool is stopping: then this error is its result.
bool Supervisor::Impl::retry_after_error(uint64_t id, TaskEntry& task, const Completion& c) {
  const bool failed = c.status == ipc::Status::error || c.status == ipc::Status::crashed;
  if (!failed || task.retried >= options_.retries || stopping_ || !fatal_.empty()) return false;
  const uint64_t delay = std::min<uint64_t>(options_.retry_delay_ns << std::min(task.retried, 20u), 10'000'000'000ull);
  ++task.retried;
  task.sent = false;
  if (delay == 0) {
    pending_.push_back(id);
  } else {
    retry_at_.emplace(ipc::monotonic_ns() + delay, id);
  }
  return true;
}

void Supervisor::Impl::cancel_pending() {
  if (!retry_at_.empty()) {
    const std::string why = "cancelled before its retry (" + stop_cause() + ")";
    for (const auto& [due, id] : retry_at_) finish_task(id, ipc::Status::cancelled, why, nullptr);
    retry_at_.clear();
  }
  if (pending_.empty()) return;
  const std::string reason = "cancelled before it started (" + stop_cause() + ")";
  while (!pending_.empty()) {
    const uint64_t id = pending_.front();
    pending_.pop_front();
    finish_task(id, ipc::Status::cancelled, reason, nullptr);  // no-op if already done
  }
}

}  // namespace procpool::supervisor
