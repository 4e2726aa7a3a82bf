#pragma once
// Batches of submit()s: while tasks of a kind that runs in microseconds flood in faster
// than the loop sends them, they go to the workers many to a record (a chunk, as map's),
// so that the per-record costs (the engine's entry, a ring frame each way, a result to
// decode) are paid once per batch; each task keeps its own future and result. Internal
// to the library: not installed.
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace procpool::detail {

// Tasks longer than this are never batched: a batch's result comes when its last task
// ends, and a crash of one would run the others again.
constexpr uint64_t kBatchTaskNs = 20'000;
// A batch runs about this long at most, so the first task's result waits little for the
// last.
constexpr uint64_t kBatchRunNs = 1'000'000;
constexpr std::size_t kMaxBatch = 256;
constexpr std::size_t kMinBatch = 8;  // fewer: records of their own (nothing to gain)
constexpr std::size_t kMaxBatchBytes = 64 * 1024;  // of inputs, far below a ring's record limit
// With this many tasks per worker unfinished the workers are fed for a while: new short
// tasks are left to gather (for batches of a useful size) rather than sent one by one.
constexpr std::size_t kBusyPerWorker = 2 * kMinBatch;
// They gather this long at most (a flood brings hundreds meanwhile).
constexpr uint64_t kGatherNs = 200'000;

// How many of `waiting` tasks of one kind, posted together, go in one batch, given the
// kind's recent run time per task (0: not known yet): 1 for none. Each worker gets a few
// batches of what waits, so that all of them have work.
inline std::size_t batch_size(uint64_t recent_run_ns, std::size_t waiting, unsigned workers) {
  if (recent_run_ns == 0 || recent_run_ns > kBatchTaskNs) return 1;
  const std::size_t size = std::min({waiting / (2 * std::max(1u, workers)), static_cast<std::size_t>(kBatchRunNs / recent_run_ns), kMaxBatch});
  return size >= kMinBatch ? size : 1;
}

}  // namespace procpool::detail
