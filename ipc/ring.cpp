#include "ipc/ring.hpp"

#include "ipc/eventfd.hpp"

#include <unistd.h>

#include <cassert>

namespace procpool::ipc {

namespace {
// With payloads limited to half the ring, an empty ring always has room for the next
// record: either it fits before the end, or the wrap padding plus the record fits.
std::size_t half_ring_payload(uint64_t capacity) {
  return static_cast<std::size_t>(capacity / 2 - sizeof(FrameHeader));
}
}  // namespace

void ring_reset(RingShared* shared) {
  // Relaxed: nobody else maps this ring while it is reset; the spawn of its next user
  // (fork/exec) orders these stores before that user's first load.
  shared->head.store(0, std::memory_order_relaxed);
  shared->tail.store(0, std::memory_order_relaxed);
  shared->data_ready.sleeping.store(0, std::memory_order_relaxed);
  shared->space_ready.sleeping.store(0, std::memory_order_relaxed);
}

RingProducer::RingProducer(RingShared* shared, std::byte* data, uint64_t capacity)
    : shared_(shared), data_(data), capacity_(capacity), max_payload_(half_ring_payload(capacity)) {
  assert((capacity & (capacity - 1)) == 0 && capacity >= 64);
  // Relaxed: only this producer writes tail; head is re-read with acquire before use.
  tail_ = published_ = shared->tail.load(std::memory_order_relaxed);
  head_cached_ = shared->head.load(std::memory_order_acquire);
  sequence_ = 0;  // a producer attaches only to a fresh (reset) ring
}

bool RingProducer::try_write(const void* part1, std::size_t len1, const void* part2,
                             std::size_t len2) {
  const std::size_t payload = len1 + len2;
  if (payload > max_payload_) return false;
  const uint64_t need = frame_bytes(payload);
  const uint64_t offset = tail_ & (capacity_ - 1);
  const uint64_t pad = (offset + need > capacity_) ? capacity_ - offset : 0;
  if (tail_ + pad + need - head_cached_ > capacity_) {
    // Acquire: pairs with the consumer's release of head; its reads of the bytes we are
    // about to overwrite happened before.
    head_cached_ = shared_->head.load(std::memory_order_acquire);
    if (tail_ + pad + need - head_cached_ > capacity_) return false;
  }
  if (pad != 0) {
    const FrameHeader wrap{kWrapLength, 0};
    std::memcpy(data_ + offset, &wrap, sizeof wrap);
    tail_ += pad;
  }
  std::byte* at = data_ + (tail_ & (capacity_ - 1));
  const FrameHeader frame{static_cast<uint32_t>(payload), sequence_++};
  std::memcpy(at, &frame, sizeof frame);
  if (len1 != 0) std::memcpy(at + sizeof frame, part1, len1);
  if (len2 != 0) std::memcpy(at + sizeof frame + len1, part2, len2);
  tail_ += need;
  return true;
}

void RingProducer::publish() {
  if (tail_ == published_) return;
  // Release: the frames written above become visible before the new tail does.
  shared_->tail.store(tail_, std::memory_order_release);
  published_ = tail_;
  if (!shared_->data_ready.should_wake()) return;  // full fence inside, see doorbell.hpp
  if (wake_eventfd_ < 0) {
    futex_wake_all(&shared_->data_ready.sleeping);
  } else {
    eventfd_ring(wake_eventfd_);
  }
}

bool RingProducer::consumer_caught_up() {
  head_cached_ = shared_->head.load(std::memory_order_acquire);
  return head_cached_ == published_;
}

void RingProducer::wait_for_space(uint64_t timeout_ns) {
  shared_->space_ready.announce_sleep();
  // Re-check after the fence: the consumer may have released just before we announced.
  const uint64_t before = head_cached_;
  head_cached_ = shared_->head.load(std::memory_order_acquire);
  if (head_cached_ != before) {
    shared_->space_ready.clear();
    return;
  }
  doorbell_wait(shared_->space_ready, timeout_ns);
}

RingConsumer::RingConsumer(RingShared* shared, std::byte* data, uint64_t capacity)
    : shared_(shared), data_(data), capacity_(capacity), max_payload_(half_ring_payload(capacity)) {
  assert((capacity & (capacity - 1)) == 0 && capacity >= 64);
  head_ = released_ = shared->head.load(std::memory_order_relaxed);  // only we write head
  tail_cached_ = shared->tail.load(std::memory_order_acquire);
  sequence_ = 0;
}

bool RingConsumer::has_data() {
  if (head_ != tail_cached_) return true;
  // Acquire: pairs with the producer's release of tail; the frames are then readable.
  tail_cached_ = shared_->tail.load(std::memory_order_acquire);
  return head_ != tail_cached_;
}

RingConsumer::Read RingConsumer::peek(std::string_view* out) {
  if (!has_data()) return Read::Empty;
  FrameHeader frame{};
  std::memcpy(&frame, data_ + (head_ & (capacity_ - 1)), sizeof frame);
  if (frame.length == kWrapLength) {
    const uint64_t skip = capacity_ - (head_ & (capacity_ - 1));
    if (skip > tail_cached_ - head_) return Read::Corrupt;
    head_ += skip;
    if (!has_data()) return Read::Empty;  // cannot happen with a correct producer
    std::memcpy(&frame, data_ + (head_ & (capacity_ - 1)), sizeof frame);
    if (frame.length == kWrapLength) return Read::Corrupt;
  }
  const uint64_t offset = head_ & (capacity_ - 1);
  if (frame.length > max_payload_ || frame.sequence != sequence_) return Read::Corrupt;
  const uint64_t need = frame_bytes(frame.length);
  if (need > tail_cached_ - head_ || offset + need > capacity_) return Read::Corrupt;
  *out = std::string_view(reinterpret_cast<const char*>(data_ + offset + sizeof frame),
                          frame.length);
  peeked_end_ = head_ + need;
  return Read::Record;
}

void RingConsumer::pop() {
  assert(peeked_end_ != 0);
  head_ = peeked_end_;
  peeked_end_ = 0;
  ++sequence_;
}

void RingConsumer::release() {
  if (head_ == released_) return;
  // Release: our reads of the freed frames complete before the producer may reuse them.
  shared_->head.store(head_, std::memory_order_release);
  released_ = head_;
  doorbell_ring(shared_->space_ready);
}

bool RingConsumer::prepare_sleep() {
  shared_->data_ready.announce_sleep();
  if (has_data()) {
    shared_->data_ready.clear();
    return false;
  }
  return true;
}

void RingConsumer::wait_for_data(uint64_t timeout_ns) {
  doorbell_wait(shared_->data_ready, timeout_ns);
}

}  // namespace procpool::ipc
