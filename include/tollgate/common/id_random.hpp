// Random bits for request, trace and span ids: unique and unpredictable enough to tell requests
// apart in logs and traces, never secrets. SplitMix64 (Steele, Lea and Flood, 2014): one addition
// and three multiply-xorshift steps a draw, where std::mt19937_64 also regenerates 2.5 KiB of
// state every 312 draws. Seeded once per worker from std::random_device.
#pragma once

#include <cstdint>
#include <limits>

namespace tollgate {

class IdRandom {
 public:
  using result_type = std::uint64_t;

  explicit IdRandom(std::uint64_t seed) noexcept : state_(seed) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace tollgate
