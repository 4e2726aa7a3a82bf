// A task or result ring whose bytes are whatever a buggy, hostile or half-dead producer
// left: the consumer must report Record, Empty or Corrupt and never read outside the ring.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "ipc/ring.hpp"

using namespace procpool::ipc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kCapacity = 4096;
  if (size < 8) return 0;
  uint64_t tail = 0;
  std::memcpy(&tail, data, 8);  // the producer's claim of how much it published
  data += 8;
  size -= 8;
  auto shared = std::make_unique<RingShared>();
  ring_reset(shared.get());
  auto bytes = std::make_unique<std::byte[]>(kCapacity);
  std::memcpy(bytes.get(), data, std::min<size_t>(size, kCapacity));
  shared->tail.store(tail % (2 * kCapacity), std::memory_order_relaxed);
  RingConsumer ring(shared.get(), bytes.get(), kCapacity);
  std::string_view rec;
  for (int i = 0; i < 1000; ++i) {
    const auto r = ring.peek(&rec);
    if (r != RingConsumer::Read::Record) break;
    if (rec.data() < reinterpret_cast<const char*>(bytes.get()) ||
        rec.data() + rec.size() > reinterpret_cast<const char*>(bytes.get()) + kCapacity)
      __builtin_trap();  // a view outside the ring
    ring.pop();
  }
  return 0;
}
