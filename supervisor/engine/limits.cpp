// Time-driven lifecycle: respawns waiting out their backoff, task timeouts, memory limits,
// start timeouts. Run from the loop's timer tick, which is 10 ms while any of these is in
// play and 100 ms otherwise (an idle pool wakes ten times a second, no more).
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "ipc/clock.hpp"
#include "ipc/sys_error.hpp"
#include "supervisor/engine/supervisor_impl.hpp"
#include "supervisor/engine/proc_info.hpp"

namespace procpool::supervisor {

namespace {
constexpr uint64_t kFastTickNs = 10'000'000;
constexpr uint64_t kSlowTickNs = 100'000'000;
constexpr uint64_t kMinPercentTimeoutNs = 100'000'000;
constexpr std::size_t kRunSamples = 255;
constexpr std::size_t kMinSamplesForPercent = 10;

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

std::string seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
  return buf;
}
}  // namespace

void Supervisor::Impl::update_tick_period() {
  const bool fast = options_.task_timeout_ns != 0 || options_.timeout_percent != 0 ||
                    memory_limits_given_ ||
                    std::any_of(slots_.begin(), slots_.end(), [](const ChildSlot& s) { return s.respawn_at_ns != 0; });
  const uint64_t period = fast ? kFastTickNs : kSlowTickNs;
  if (period == tick_period_ns_) return;
  tick_period_ns_ = period;
  const timespec ts{0, static_cast<long>(period)};
  const itimerspec tick{ts, ts};
  ipc::check_sys(timerfd_settime(timer_fd_, 0, &tick, nullptr), "timerfd_settime");
}

void Supervisor::Impl::service_timers() {
  const uint64_t now = ipc::monotonic_ns();
  ipc::PoolStats& stats = segment_->stats();
  while (!retry_at_.empty() && retry_at_.begin()->first <= now) {
    pending_.push_back(retry_at_.begin()->second);
    retry_at_.erase(retry_at_.begin());
  }
  stats.queued.store(pending_.size(), std::memory_order_relaxed);
  stats.updated_ns.store(now, std::memory_order_relaxed);
  // The finishing rate over the last ~5 s, from a sample a second.
  if (rate_samples_.empty() || now - rate_samples_.back().first >= 1'000'000'000ull) {
    rate_samples_.emplace_back(now, done_count_);
    if (rate_samples_.size() > 6) rate_samples_.pop_front();
  }
  const auto [since_ns, done_then] = rate_samples_.front();
  if (now > since_ns)
    stats.rate_milli.store(static_cast<uint64_t>(static_cast<double>(done_count_ - done_then) * 1e12 /
                                                 static_cast<double>(now - since_ns)),
                           std::memory_order_relaxed);
  const bool check_memory_now = now - last_memory_check_ns_ >= (memory_limits_given_ ? kFastTickNs : kSlowTickNs);
  if (check_memory_now) last_memory_check_ns_ = now;
  for (ChildSlot& slot : slots_) {
    if (slot.state == SlotState::Dead) {
      if (slot.respawn_at_ns != 0 && now >= slot.respawn_at_ns && !stopping_ && fatal_.empty()) {
        slot.respawn_at_ns = 0;
        schedule_respawn(slot, 0);
      }
      continue;
    }
    if (slot.kill_reason != KillReason::None) continue;  // already on its way out
    retire_or_refresh(slot);
    if (slot.state == SlotState::Starting && now - slot.spawned_ns > options_.start_timeout_ns) {
      slot.fatal_message = "not ready within " + seconds(options_.start_timeout_ns);
      kill_tree(slot);
      // The pool's first workers: it cannot start. A replacement (stopped, starved): a
      // crash like any other, under the crash-loop limit.
      slot.kill_reason = KillReason::StartTimeout;
      if (slot.generation == 1) fail_pool("a worker could not start: " + slot.fatal_message);
      continue;
    }
    check_task_timeout(slot, now);
    if (check_memory_now) check_memory(slot);
  }
  update_tick_period();
}

// The child's control block names the task it runs and since when; read live, the start
// time may be a later task's (see SlotControl::show_running), never an earlier one, so
// a task is never killed early.
void Supervisor::Impl::check_task_timeout(ChildSlot& slot, uint64_t now) {
  if (options_.task_timeout_ns == 0 && options_.timeout_percent == 0) return;
  const ipc::SlotView view = segment_->slot(static_cast<uint32_t>(slot.index));
  const std::optional<ipc::RunningTask> running = view.control->running();
  if (!running) {
    // Tasks queued but none started or finished for a whole timeout: the child is
    // stopped or wedged outside any task. Its tasks go back, uncharged.
    if (slot.inflight.empty() || slot.state != SlotState::Ready) return;
    const uint64_t limit = timeout_for(task_entry(slot.inflight.front().id).kind);
    if (limit != 0 && now > slot.progress_ns && now - slot.progress_ns > limit) {
      slot.kill_reason = KillReason::Timeout;
      slot.kill_detail = "stalled: no task started or finished for " + seconds(now - slot.progress_ns);
      kill_tree(slot);
    }
    return;
  }
  if (running->task_id < first_id_ || running->task_id >= next_id_) return;
  const uint64_t started = running->started_ns;
  const uint64_t limit = timeout_for(task_entry(running->task_id).kind);
  if (limit == 0 || started == 0 || now < started || now - started <= limit) return;
  slot.kill_reason = KillReason::Timeout;
  slot.kill_detail = "timed out after " + seconds(now - started) + " (limit " + seconds(limit) + ")";
  kill_tree(slot);
}

void Supervisor::Impl::check_memory(ChildSlot& slot) {
  // A worker leaving as asked, its tasks done, is tearing down (a sanitizer's exit scan
  // touches all it has): no task of its can be charged, so its memory is no one's limit.
  if (slot.state == SlotState::Stopping &&
      !segment_->slot(static_cast<uint32_t>(slot.index)).control->running())
    return;
  // The whole tree: a command the worker runs counts as the worker.
  const uint64_t rss = containment_->memory_bytes(static_cast<unsigned>(slot.index), slot.process->pid());
  const uint64_t hard = options_.hard_memory_per_child;
  if (rss > hard) {
    slot.kill_reason = KillReason::MemoryHard;
    slot.kill_detail = "killed at " + mib(rss) + " RSS, over the hard limit of " + mib(hard);
    kill_tree(slot);
  } else if (rss > options_.max_memory_per_child) {
    recycle(slot);
  }
}

// The kernel's cap (Containment::limit_memory) acts before the polled limit sees the
// tree pass it: the OOM killer's kills in the slot's container since they were last told.
std::string Supervisor::Impl::oom_verdict(ChildSlot& slot) {
  const uint64_t kills = containment_->oom_kills(static_cast<unsigned>(slot.index));
  if (kills <= slot.oom_kills) return "";
  slot.oom_kills = kills;
  return "killed by the OOM killer at " + mib(containment_->peak_memory(static_cast<unsigned>(slot.index))) +
         " (hard limit " + mib(options_.hard_memory_per_child) + ")";
}

// A worker the OOM killer took is charged as one killed at the hard limit, with the cause.
void Supervisor::Impl::note_oom_kill(ChildSlot& slot, int wait_status) {
  if (!WIFSIGNALED(wait_status) || WTERMSIG(wait_status) != SIGKILL) return;
  if (slot.kill_reason != KillReason::None && slot.kill_reason != KillReason::MemoryHard) return;
  std::string verdict = oom_verdict(slot);
  if (verdict.empty()) return;
  slot.kill_reason = KillReason::MemoryHard;
  slot.kill_detail = std::move(verdict);
}

uint64_t Supervisor::Impl::timeout_for(uint8_t kind) const {
  uint64_t limit = options_.task_timeout_ns;
  if (options_.timeout_percent != 0 && run_samples_[kind].size() >= kMinSamplesForPercent) {
    std::vector<uint64_t> sample = run_samples_[kind];
    std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(sample.size() / 2), sample.end());
    const uint64_t by_median =
        std::max(kMinPercentTimeoutNs, sample[sample.size() / 2] / 100 * options_.timeout_percent);
    limit = limit == 0 ? by_median : std::min(limit, by_median);
  }
  return limit;
}

void Supervisor::Impl::record_run_time(uint8_t kind, uint64_t run_ns) {
  std::vector<uint64_t>& sample = run_samples_[kind];
  if (sample.size() < kRunSamples) {
    sample.push_back(run_ns);
  } else {
    sample[run_sample_next_[kind]] = run_ns;
    run_sample_next_[kind] = (run_sample_next_[kind] + 1) % kRunSamples;
  }
}

}  // namespace procpool::supervisor
