#pragma once
// A test that cannot run on this machine skips, so that a user's `ctest` on a laptop
// passes; under CI (CI set and not empty, as .ci/run sets it) the same test fails, since
// ctest would count the skip as a pass and the check would vanish without anyone seeing.
#include <cstdlib>
#include <gtest/gtest.h>

namespace procpool::testing {
inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}
}  // namespace procpool::testing

// A macro: GTEST_SKIP and FAIL return from the test body that uses them.
#define PROCPOOL_SKIP_OUTSIDE_CI(why)                                                  \
  do {                                                                                 \
    if (::procpool::testing::under_ci()) FAIL() << "cannot run here, under CI: " << why; \
    GTEST_SKIP() << why;                                                               \
  } while (0)
