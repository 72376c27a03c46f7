// Time as the token cache and the policy see it, injectable so tests control it.
#pragma once

#include <chrono>
#include <memory>

namespace tollgate::oidc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time: what `exp` and `nbf` (seconds since the epoch) are compared with.
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  // Monotonic time: when cache entries expire. A wall clock stepped backwards must not keep an
  // answer cached past its TTL.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The process clocks.
std::shared_ptr<const Clock> system_clock();

}  // namespace tollgate::oidc
