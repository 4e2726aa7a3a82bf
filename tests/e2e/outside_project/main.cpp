#include <procpool/pool.hpp>

#include <cstdio>

PROCPOOL_TASK(triple, [](const int& x) { return 3 * x; });

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  procpool::Pool pool;
  int total = 0;
  for (const procpool::Result& r : pool.map("triple", std::vector<int>{1, 2, 3, 4}, 2)) total += r.value<int>();
  std::printf("total %d\n", total);
  return total == 30 ? 0 : 1;
}
