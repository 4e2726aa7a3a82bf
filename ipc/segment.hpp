#pragma once
// The pool's shared-memory segment: one per pool, created 0600 and exclusively by the
// supervisor, mapped by each child. It is laid out with plain offsets (no segment
// manager: its internal mutex would wedge when a holder dies):
//
//   [SegmentHeader | PoolStats | page pad] then slot_count x [SlotBlock | data to_child | data to_sup]
//
// Each slot belongs to one worker position; its generation counts the children that
// have occupied it. A child touches only its own slot.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ipc/doorbell.hpp"
#include "ipc/ring.hpp"
#include "ipc/slot_control.hpp"
#include "ipc/status.hpp"

namespace procpool::ipc {

inline constexpr uint64_t kSegmentMagic = 0x6c6f6f70636f7270ull;  // "procpool"
inline constexpr uint32_t kLayoutVersion = 6;  // 6: results say how a command ended

// Written by the supervisor before any child attaches; read-only afterwards.
struct SegmentHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t slot_count;
  uint64_t ring_capacity;  // bytes of each ring's data area (a power of two)
  uint64_t slot_stride;    // bytes from one SlotBlock to the next
  uint64_t slots_offset;   // offset of slot 0 from the segment start
  uint64_t total_size;
  uint64_t supervisor_pid;
  uint64_t created_ns;
  char containment[448];  // NUL-terminated (the header fills 512 bytes): how workers are contained, for `procpool status`
};
// The header is written once, before its magic; the magic is stored last with release and
// loaded with acquire (atomic_ref: the struct stays trivially copyable).
static_assert(offsetof(SegmentHeader, magic) == 0 && alignof(SegmentHeader) >= alignof(std::atomic<uint64_t>));
static_assert(std::is_trivially_copyable_v<SegmentHeader> && sizeof(SegmentHeader) == 512);

// The pool's totals for `procpool status` and metrics, written by the supervisor alone
// (relaxed stores: each counter stands alone, a reader wants recent values, not a
// consistent snapshot) and read by anyone of the same user, read-only.
struct alignas(kCacheLine) PoolStats {
  std::atomic<uint64_t> submitted;     // tasks accepted so far
  std::atomic<uint64_t> queued;        // waiting for a worker (refreshed at every timer tick)
  std::atomic<uint64_t> done[kStatusCount];  // results by ipc::Status
  std::atomic<uint64_t> restarts;      // unplanned worker replacements
  std::atomic<uint64_t> updated_ns;    // CLOCK_MONOTONIC of the last tick: a stalled loop shows
  std::atomic<uint64_t> rate_milli;    // tasks finished per second x 1000, over the last ~5 s
};

struct SlotBlock {
  SlotControl control;
  RingShared to_child;  // supervisor -> child: tasks
  RingShared to_sup;    // child -> supervisor: results
};
static_assert(sizeof(SlotBlock) % kCacheLine == 0);

struct SlotView {
  SlotControl* control;
  RingShared* to_child;
  RingShared* to_sup;
  std::byte* to_child_data;
  std::byte* to_sup_data;
  uint64_t ring_capacity;
};

class Segment {
 public:
  // Supervisor: creates a new segment with a unique unpredictable name, mode 0600,
  // O_EXCL. Removes it again in the destructor. containment: shown by `procpool status`
  // (cut to fit).
  static std::unique_ptr<Segment> create(uint32_t slot_count, uint64_t ring_capacity,
                                         std::string_view containment = "");
  // Child: maps an existing segment and validates its header. read_only: for observers
  // (procpool status), who must not be able to disturb the pool.
  static std::unique_ptr<Segment> attach(const std::string& name, bool read_only = false);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const std::string& name() const { return name_; }
  const SegmentHeader& header() const { return *static_cast<const SegmentHeader*>(base_); }
  PoolStats& stats() const;
  SlotView slot(uint32_t index) const;

 private:
  struct Mapping;  // the Boost.Interprocess objects, kept out of this header
  Segment(std::string name, std::unique_ptr<Mapping> mapping, bool owner);
  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  void* base_;
  bool owner_;
};

// Removes segments of this user whose supervisor process no longer exists. Never
// touches another user's segment or a live supervisor's. Returns how many it removed.
int remove_stale_segments();

// The name prefix of this user's segments: "procpool-<uid>-".
std::string segment_prefix();

}  // namespace procpool::ipc
