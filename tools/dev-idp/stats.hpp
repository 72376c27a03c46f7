// Call counters read by the admin API. Every worker thread bumps its own cache line, so counting
// costs the introspection path no shared write.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace tollgate::dev_idp {

class CallCounter {
 public:
  void increment() { slots_[slot_of_this_thread()].count.fetch_add(1, std::memory_order_relaxed); }

  std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (const Slot& slot : slots_) sum += slot.count.load(std::memory_order_relaxed);
    return sum;
  }

  void reset() {
    for (Slot& slot : slots_) slot.count.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr std::size_t kSlots = 64;
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> count{0};
  };

  static std::size_t slot_of_this_thread() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t slot = next.fetch_add(1) % kSlots;
    return slot;
  }

  std::array<Slot, kSlots> slots_;
};

struct Stats {
  CallCounter introspect_calls;
  CallCounter token_calls;
};

}  // namespace tollgate::dev_idp
