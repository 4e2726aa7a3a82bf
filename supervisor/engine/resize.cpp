// A running pool takes new options (serve's SIGHUP): it grows or shrinks, and children
// started with old kind options are replaced once they have finished what they hold.
// Nothing here drops a task: a child only ever leaves through a Stop record queued
// behind its tasks, and if it dies instead, its tasks are requeued as after any death.
#include <algorithm>

#include "ipc/clock.hpp"
#include "supervisor/engine/supervisor_impl.hpp"

namespace procpool::supervisor {

std::string Supervisor::reconfigure(PoolOptions options, const std::vector<KindSpec>& kinds) {
  Impl& p = *impl_;
  if (p.stopping_) return "the pool is stopping";
  if (options.workers == 0) options.workers = p.options_.workers;
  if (options.workers > p.capacity_)
    return "cannot grow to " + std::to_string(options.workers) + " workers: this pool was started with room for " +
           std::to_string(p.capacity_) + " (max-workers); restart it to raise that";
  if (options.plugins != p.options_.plugins) return "plugins cannot change while the pool runs; restart it";
  bool same_names = kinds.size() == p.base_kinds_;  // kinds added since (add_kind) stay as they are
  for (std::size_t i = 0; same_names && i < kinds.size(); ++i) same_names = kinds[i].name == p.kinds_[i].name;
  if (!same_names) return "the task kinds cannot change while the pool runs; restart it";

  // What a child was started with stays as it was.
  options.ring_capacity = p.options_.ring_capacity;
  options.child_exe = p.options_.child_exe;
  options.initializer_kind = p.options_.initializer_kind;
  options.initializer_input = p.options_.initializer_input;
  options.handle_signals = p.options_.handle_signals;
  options.max_workers = p.capacity_;
  p.options_ = std::move(options);
  p.apply_limit_defaults();
  p.containment_->limit_memory(p.options_.hard_memory_per_child);
  bool kinds_changed = false;
  for (std::size_t i = 0; i < kinds.size(); ++i) kinds_changed |= kinds[i].options != p.kinds_[i].options;
  if (kinds_changed) {
    for (std::size_t i = 0; i < kinds.size(); ++i) p.kinds_[i].options = kinds[i].options;
    p.define_kinds();
    ++p.config_epoch_;
  }
  p.resize(p.options_.workers);
  p.update_tick_period();
  for (ChildSlot& slot : p.slots_) p.retire_or_refresh(slot);
  return {};
}

void Supervisor::Impl::resize(unsigned workers) {
  target_workers_ = workers;
  for (unsigned i = 0; i < workers; ++i) {
    if (i == slots_.size()) add_slot();  // within capacity_: reserved, no reallocation
    ChildSlot& slot = slots_[i];
    if (!slot.retired && slot.generation != 0) continue;
    slot.retired = false;
    if (slot.state == SlotState::Stopping) {
      slot.recycling = true;  // was leaving for good: replace it when it exits instead
    } else if (slot.state == SlotState::Dead && slot.respawn_at_ns == 0) {
      schedule_respawn(slot, 0);
    }
  }
  for (std::size_t i = workers; i < slots_.size(); ++i) {
    ChildSlot& slot = slots_[i];
    slot.retired = true;
    slot.recycling = false;
    slot.respawn_at_ns = 0;  // one waiting out a crash backoff stays gone
  }
}

// A Stop record behind the child's queue: it finishes what it holds, then exits 0.
// replace: start a successor then (a recycled child), else leave the slot empty.
void Supervisor::Impl::ask_to_stop(ChildSlot& slot, bool replace) {
  if (slot.state != SlotState::Ready) return;
  const uint8_t stop = ipc::kStopRecord;
  if (!slot.tasks.try_write(&stop, 1)) return;  // full ring: try again at the next tick
  slot.tasks.publish();
  slot.recycling = replace;
  slot.state = SlotState::Stopping;
}

// Called at every tick and after a reconfigure. A child that was still starting when
// its slot was retired or its kind options changed gets its Stop once it is ready.
void Supervisor::Impl::retire_or_refresh(ChildSlot& slot) {
  if (slot.state != SlotState::Ready || stopping_) return;
  if (slot.retired) {
    ask_to_stop(slot, false);
  } else if (slot.config_epoch != config_epoch_) {
    ask_to_stop(slot, true);
  }
}

}  // namespace procpool::supervisor
