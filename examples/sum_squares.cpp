// The tutorials' CPU-bound example: the sum of i*i for i in [0, n), split into one chunk
// per worker, each chunk summed in a worker process, exactly (128-bit).
//   sum_squares [N]          (default 100000000: 333333328333333350000000)
#include <chrono>
#include <cstdio>
#include <string>

#include "procpool/pool.hpp"

__extension__ using u128 = unsigned __int128;  // GCC and Clang: exact sums up to n ~ 10^12

struct Range {
  uint64_t begin, end;
};

PROCPOOL_TASK(sum_squares_range, [](const Range& r) {
  u128 total = 0;
  for (uint64_t i = r.begin; i < r.end; ++i) total += static_cast<u128>(i) * i;
  return total;
});

static std::string decimal(u128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

int main(int argc, char** argv) {
  procpool::init(argc, argv);  // a worker runs tasks here and never returns
  const uint64_t n = argc > 1 ? std::stoull(argv[1]) : 100'000'000;
  const auto start = std::chrono::steady_clock::now();
  procpool::Pool pool;
  std::vector<Range> chunks;
  const uint64_t step = (n + pool.workers() - 1) / pool.workers();
  for (uint64_t b = 0; b < n; b += step) chunks.push_back({b, std::min(n, b + step)});
  u128 total = 0;
  for (u128 part : pool.map(sum_squares_range, chunks, /*chunksize=*/1)) total += part;  // a task each
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sum of squares below %llu = %s (%u workers, %.2f s)\n", static_cast<unsigned long long>(n),
              decimal(total).c_str(), pool.workers(), secs);
  return 0;
}
