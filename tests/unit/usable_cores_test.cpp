#include "supervisor/engine/usable_cores.hpp"

#include <sched.h>

#include <gtest/gtest.h>

using procpool::supervisor::cpu_max_quota;
using procpool::supervisor::usable_cores;

TEST(UsableCores, ReadsCgroupCpuMaxQuotas) {
  EXPECT_DOUBLE_EQ(cpu_max_quota("max 100000\n"), 0);
  EXPECT_DOUBLE_EQ(cpu_max_quota("200000 100000\n"), 2.0);
  EXPECT_DOUBLE_EQ(cpu_max_quota("150000 100000"), 1.5);
  EXPECT_DOUBLE_EQ(cpu_max_quota(""), 0);
  EXPECT_DOUBLE_EQ(cpu_max_quota("garbage"), 0);
  EXPECT_DOUBLE_EQ(cpu_max_quota("100 0"), 0);
}

TEST(UsableCores, FollowsTheAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  const unsigned before = usable_cores();
  EXPECT_GE(before, 1u);
  EXPECT_LE(before, static_cast<unsigned>(CPU_COUNT(&all)));
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &all)) {
      CPU_SET(i, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(usable_cores(), 1u);
  sched_setaffinity(0, sizeof all, &all);
}
