// A completion for co_spawn of a coroutine nobody awaits: what ended it by an exception cannot be
// rethrown to anyone, so it is logged, naming the coroutine.
#pragma once

#include <exception>

#include <spdlog/spdlog.h>

namespace tollgate {

inline auto log_unexpected(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{} ended by an unexpected error: {}", what, ex.what());
    }
  };
}

}  // namespace tollgate
