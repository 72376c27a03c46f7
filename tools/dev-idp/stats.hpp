// Call counters read by the admin API. Every worker thread bumps its own cache line, so counting
// costs the introspection path no shared write.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// The trace context (traceparent, tracestate) of the latest introspection calls that carried one,
// so a test can follow a trace into the IdP. A lock per traced call: this is a development tool.
class RecentTraces {
 public:
  struct Trace {
    std::string traceparent;
    std::string tracestate;  // empty when the call had none
  };

  void record(std::string_view traceparent, std::string_view tracestate) {
    Trace trace{std::string(traceparent), std::string(tracestate)};
    const std::lock_guard lock(mutex_);
    if (traces_.size() == kKept) traces_.pop_front();
    traces_.push_back(std::move(trace));
  }

  // Oldest first.
  std::vector<Trace> latest() const {
    const std::lock_guard lock(mutex_);
    return {traces_.begin(), traces_.end()};
  }

  void reset() {
    const std::lock_guard lock(mutex_);
    traces_.clear();
  }

 private:
  static constexpr std::size_t kKept = 32;
  mutable std::mutex mutex_;
  std::deque<Trace> traces_;
};

struct Stats {
  CallCounter introspect_calls;
  CallCounter token_calls;
  CallCounter keys_calls;  // JWKS fetches
  RecentTraces introspect_traces;
};

}  // namespace tollgate::dev_idp
