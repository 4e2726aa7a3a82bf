#pragma once
// Which sanitizer the build runs under, for GCC (which defines __SANITIZE_THREAD__ and
// __SANITIZE_ADDRESS__) and Clang (which, up to 14 at least, answers __has_feature only):
// PROCPOOL_TSAN, PROCPOOL_ASAN.
#if defined(__SANITIZE_THREAD__)
#define PROCPOOL_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PROCPOOL_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(PROCPOOL_TSAN)
#define PROCPOOL_TSAN 1
#endif
#if __has_feature(address_sanitizer) && !defined(PROCPOOL_ASAN)
#define PROCPOOL_ASAN 1
#endif
#endif
