// PHC_CHECK: an invariant that stays checked in release builds. assert() is
// compiled out under NDEBUG (RelWithDebInfo); where a breached invariant would
// silently corrupt a result (a phase vector of the wrong length, a field
// matrix of the wrong width), the process stops instead, naming the check.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace phc::base {

[[noreturn]] inline void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace phc::base

#define PHC_CHECK(condition)                                    \
  do {                                                          \
    if (!(condition)) [[unlikely]] {                            \
      ::phc::base::CheckFailed(#condition, __FILE__, __LINE__); \
    }                                                           \
  } while (false)
