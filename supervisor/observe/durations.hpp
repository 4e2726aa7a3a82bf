#pragma once
// Durations whose percentiles a run's summary prints, in memory that does not grow with
// the run: every value is kept while there are at most kExact of them (percentiles then
// exact), after which they go into a log-linear histogram: values below 128 ns exact,
// above it buckets 1/128 of a power of two wide, so a percentile is within 0.4% of the
// exact one; 58 KiB, whether the run had a million tasks or a billion.
#include <cstdint>
#include <vector>

namespace procpool::supervisor {

class Durations {
 public:
  static constexpr std::size_t kExact = 1 << 16;
  void add(uint64_t ns);
  bool empty() const { return count_ == 0; }
  uint64_t count() const { return count_; }
  // The p-th percentile (0..100), nearest rank; 0 for none. A bucket's value is its middle.
  uint64_t percentile(double p);

 private:
  void fold();  // exact_ into buckets_
  std::vector<uint64_t> exact_;
  std::vector<uint64_t> buckets_;  // empty while exact
  uint64_t count_ = 0;
};

}  // namespace procpool::supervisor
