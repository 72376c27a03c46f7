// What the fuzz targets share: the input as text, and a check that stops the run with a message
// when a property the rest of tollgate relies on does not hold. libFuzzer keeps the input that
// got there and reports it as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace tollgate::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line,
                                      std::string_view detail) {
  std::fprintf(stderr, "\n%s:%d: check failed: %s\n  %.*s\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace tollgate::fuzz

// FUZZ_CHECK(condition, detail): `detail` (anything convertible to std::string_view) says what was
// being checked, e.g. the normalised path.
#define FUZZ_CHECK(condition, detail)                                           \
  do {                                                                          \
    if (!(condition)) {                                                         \
      ::tollgate::fuzz::check_failed(#condition, __FILE__, __LINE__, (detail)); \
    }                                                                           \
  } while (false)
