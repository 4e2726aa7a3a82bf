#pragma once
// A single-producer/single-consumer ring of variable-length byte records in shared memory.
//
// Positions (head, tail) are byte counters that only grow; the offset in the data area is
// position & (capacity - 1). Every record starts on an 8-byte boundary with a frame
// {u32 length, u32 sequence} followed by the payload, padded to 8 bytes. A record never
// straddles the end of the data area: when it does not fit before the end, the producer
// writes a wrap frame (length == kWrapLength) and continues at the start.
//
// Invariants:
//   head <= tail <= head + capacity        (the producer never overwrites unread bytes)
//   bytes in [head, tail) are whole, published frames
//   frame sequences count 0, 1, 2, ... per ring lifetime (a wrap frame carries none)
// Synchronisation:
//   producer: writes frames (plain memcpy), then tail.store(release)   -- pairs with
//   consumer: tail.load(acquire), then reads frames.
//   consumer: finishes reading, then head.store(release)              -- pairs with
//   producer: head.load(acquire), then overwrites the freed bytes.
// Each side keeps a private cached copy of the other's index and reloads it only when the
// cached value says "full" (producer) or "empty" (consumer), so the common case touches
// no cache line that the other side writes.
//
// Crashes: a producer that dies mid-write has not published the partial frame, so the
// consumer never sees it. Anything a dead producer *did* publish is whole. The
// supervisor resets a ring (reset()) only once both of its users are known to be gone or
// not yet started. A consumer must still distrust frame contents (lengths, sequences):
// a child may be buggy or hostile; see RingConsumer::Read::Corrupt.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "ipc/doorbell.hpp"

namespace procpool::ipc {

inline constexpr std::size_t kCacheLine = 64;

// The part of a ring that both processes touch, placed in the segment.
struct RingShared {
  alignas(kCacheLine) std::atomic<uint64_t> head;  // written by the consumer only
  alignas(kCacheLine) std::atomic<uint64_t> tail;  // written by the producer only
  // The consumer sleeps here when the ring is empty; the producer rings it after publish.
  alignas(kCacheLine) Doorbell data_ready;
  // The producer sleeps here when the ring is full; the consumer rings it after release.
  alignas(kCacheLine) Doorbell space_ready;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring indices must be lock-free words");
static_assert(offsetof(RingShared, tail) - offsetof(RingShared, head) == kCacheLine,
              "head and tail must be a cache line apart to prevent false sharing");
static_assert(sizeof(RingShared) == 4 * kCacheLine, "RingShared is four cache lines");

struct FrameHeader {
  uint32_t length;    // payload bytes, or kWrapLength
  uint32_t sequence;  // low 32 bits of the record's ordinal
};
static_assert(sizeof(FrameHeader) == 8);
inline constexpr uint32_t kWrapLength = 0xFFFFFFFFu;

inline constexpr uint64_t frame_bytes(std::size_t payload) {
  return sizeof(FrameHeader) + ((payload + 7u) & ~uint64_t{7});
}

// Resets a ring to empty. Supervisor only, and only while no process uses the ring.
void ring_reset(RingShared* shared);

// Producer side. One instance per ring per producing process; not thread-safe.
class RingProducer {
 public:
  RingProducer() = default;
  RingProducer(RingShared* shared, std::byte* data, uint64_t capacity);

  // Largest payload that always fits eventually (half the ring, see ring.cpp).
  std::size_t max_payload() const { return max_payload_; }

  // Writes a record made of up to two parts (header and body, without a copy into a
  // temporary). Not visible to the consumer until publish(). False if there is no room
  // now; a payload above max_payload() is a caller bug and also returns false.
  bool try_write(const void* part1, std::size_t len1, const void* part2 = nullptr,
                 std::size_t len2 = 0);
  // Makes every record written so far visible, and wakes a sleeping consumer.
  void publish();
  // Wake the consumer by writing to this eventfd instead of a futex wake: for a consumer
  // that multiplexes many rings and other events in epoll (the supervisor).
  void set_wake_eventfd(int fd) { wake_eventfd_ = fd; }
  // True when records are written but not yet published.
  bool has_unpublished() const { return tail_ != published_; }
  // True if the consumer has read everything published (reloads head).
  bool consumer_caught_up();
  // Producer blocks until the consumer frees space or timeout_ns passes.
  void wait_for_space(uint64_t timeout_ns);

 private:
  RingShared* shared_ = nullptr;
  std::byte* data_ = nullptr;
  uint64_t capacity_ = 0;
  std::size_t max_payload_ = 0;
  uint64_t tail_ = 0;         // next write position (private until published)
  uint64_t published_ = 0;    // last value stored to shared_->tail
  uint64_t head_cached_ = 0;  // consumer's head as last seen
  uint32_t sequence_ = 0;
  int wake_eventfd_ = -1;
};

// Consumer side. One instance per ring per consuming process; not thread-safe.
class RingConsumer {
 public:
  enum class Read { Empty, Record, Corrupt };

  RingConsumer() = default;
  RingConsumer(RingShared* shared, std::byte* data, uint64_t capacity);

  // Looks at the next record without consuming it. On Record, *out views the payload,
  // valid until pop() + release(). Corrupt means the producer broke the framing: treat
  // the producer as failed; the ring must be reset before reuse.
  Read peek(std::string_view* out);
  // Consumes the record returned by the last peek() (private until release()).
  void pop();
  // Returns consumed space to the producer, and wakes it if it waits for space.
  void release();
  // True if a record is published but not yet peeked (reloads tail when needed).
  bool has_data();
  // Announces sleep on data_ready and re-checks; true if the caller may now block.
  bool prepare_sleep();
  void wait_for_data(uint64_t timeout_ns);
  // After prepare_sleep() and a wait of the caller's own (an eventfd in poll): withdraws
  // the announcement, so producers stop making wake-up calls.
  void end_sleep() { shared_->data_ready.clear(); }
  RingShared* shared() const { return shared_; }

 private:
  RingShared* shared_ = nullptr;
  std::byte* data_ = nullptr;
  uint64_t capacity_ = 0;
  std::size_t max_payload_ = 0;
  uint64_t head_ = 0;         // next read position (private until released)
  uint64_t released_ = 0;     // last value stored to shared_->head
  uint64_t tail_cached_ = 0;  // producer's tail as last seen
  uint64_t peeked_end_ = 0;   // position after the record peek() returned, 0 if none
  uint32_t sequence_ = 0;
};

}  // namespace procpool::ipc
