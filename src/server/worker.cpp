#include "tollgate/server/worker.hpp"

#include <random>
#include <vector>

namespace tollgate::server {
namespace {

std::uint64_t random_seed() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

}  // namespace

Worker::Worker(unsigned index, metrics::Registry& registry)
    : index_(index), registry_(registry), rng_(random_seed()) {}

std::string Worker::next_request_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng_();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[v & 0xf];
      v >>= 4;
    }
  }
  return id;
}

void Worker::start_draining(std::chrono::steady_clock::time_point deadline) {
  draining_ = true;
  drain_deadline_ = deadline;
  // close_if_idle() may remove the session from the set: iterate over a copy.
  std::vector<SessionHandle*> current(sessions_.begin(), sessions_.end());
  for (auto* s : current) s->close_if_idle();
}

}  // namespace tollgate::server
