#include "supervisor/observe/durations.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "supervisor/observe/report.hpp"

namespace procpool::supervisor {

namespace {
constexpr unsigned kSubBits = 7;  // 128 buckets per power of two
constexpr uint64_t kSub = uint64_t{1} << kSubBits;
constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

std::size_t bucket_of(uint64_t v) {
  if (v < kSub) return static_cast<std::size_t>(v);
  const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits
  const uint64_t sub = (v >> (e - kSubBits)) & (kSub - 1);
  return static_cast<std::size_t>((e - kSubBits + 1) * kSub + sub);
}

uint64_t middle_of(std::size_t bucket) {
  if (bucket < kSub) return bucket;
  const unsigned e = static_cast<unsigned>(bucket / kSub) + kSubBits - 1;
  const uint64_t sub = bucket % kSub;
  const uint64_t low = (kSub + sub) << (e - kSubBits);
  const uint64_t width = uint64_t{1} << (e - kSubBits);
  return low + width / 2;
}
}  // namespace

void Durations::add(uint64_t ns) {
  ++count_;
  if (!buckets_.empty()) {
    ++buckets_[bucket_of(ns)];
    return;
  }
  exact_.push_back(ns);
  if (exact_.size() > kExact) fold();
}

void Durations::fold() {
  buckets_.assign(kBuckets, 0);
  for (const uint64_t v : exact_) ++buckets_[bucket_of(v)];
  exact_ = {};  // its memory given back
}

uint64_t Durations::percentile(double p) {
  if (buckets_.empty()) return supervisor::percentile(exact_, p);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return middle_of(b);
  }
  return middle_of(buckets_.size() - 1);
}

}  // namespace procpool::supervisor
