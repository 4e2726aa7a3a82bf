#include "supervisor/engine/usable_cores.hpp"

#include "supervisor/engine/cgroup_fs.hpp"

#include <sched.h>

#include <gtest/gtest.h>

using procpool::supervisor::cfs_quota;
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

TEST(UsableCores, ReadsCgroupV1CfsQuotas) {
  EXPECT_DOUBLE_EQ(cfs_quota("150000\n", "100000\n"), 1.5);
  EXPECT_DOUBLE_EQ(cfs_quota("50000", "100000"), 0.5);
  EXPECT_DOUBLE_EQ(cfs_quota("-1\n", "100000\n"), 0);  // no quota
  EXPECT_DOUBLE_EQ(cfs_quota("", ""), 0);                // not there
  EXPECT_DOUBLE_EQ(cfs_quota("100000", "0"), 0);
  EXPECT_DOUBLE_EQ(cfs_quota("12abc", "100000"), 0);
}

TEST(UsableCores, FindsEachHierarchyInMountinfo) {
  const auto cgroup_mount_of = procpool::supervisor::cgroup::mount_of;
  const std::string v2 = "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                         "rw,nsdelegate,memory_recursiveprot";
  const std::string v1 = "40 30 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct";
  const std::string acct = "41 30 0:36 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct";
  const std::string nested = "50 40 0:35 /docker/abc /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu";
  ASSERT_TRUE(cgroup_mount_of(v2, ""));
  EXPECT_EQ(cgroup_mount_of(v2, "")->point, "/sys/fs/cgroup");
  EXPECT_FALSE(cgroup_mount_of(v2, "cpu"));
  ASSERT_TRUE(cgroup_mount_of(v1, "cpu"));
  EXPECT_EQ(cgroup_mount_of(v1, "cpu")->point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_FALSE(cgroup_mount_of(v1, ""));
  EXPECT_FALSE(cgroup_mount_of(acct, "cpu"));  // cpuacct is not cpu
  EXPECT_EQ(cgroup_mount_of(nested, "cpu")->root, "/docker/abc");
  EXPECT_FALSE(cgroup_mount_of("24 1 8:1 / / rw - ext4 /dev/sda1 rw", ""));
  EXPECT_FALSE(cgroup_mount_of("garbage", ""));
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
