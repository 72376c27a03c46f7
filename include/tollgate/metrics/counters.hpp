// The counting primitives behind /metrics and /status.json. Every count is written by one worker
// thread only, into that worker's own cell, and read by whoever scrapes: a write is a plain load
// and store (no locked instruction, no cache line shared with another writer), a read sums the
// workers' cells.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

namespace tollgate::metrics {

#ifdef TOLLGATE_NO_COUNTING
inline constexpr bool kCounting = false;  // the build that measures what counting costs
#else
inline constexpr bool kCounting = true;
#endif

// A count with a single writer. Relaxed atomics only so that the reader sees whole values. A
// `Level` is a count the gateway itself acts on (a target's requests in flight, its time out of
// rotation): it is kept even in a build that counts nothing else.
template <bool Kept>
class BasicCount {
 public:
  void add(std::uint64_t n = 1) noexcept {
    if constexpr (Kept) {
      value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  }
  void subtract(std::uint64_t n = 1) noexcept {
    if constexpr (Kept) {
      value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
  }
  void set(std::uint64_t v) noexcept {
    if constexpr (Kept) value_.store(v, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};
using Count = BasicCount<kCounting>;
using Level = BasicCount<true>;

// Upper bounds of a histogram's buckets, in nanoseconds, ascending; +Inf is implicit.
using Bounds = std::span<const std::int64_t>;

// A proxy answers in well under a millisecond; a slow upstream or a client upload takes seconds.
inline constexpr std::array<std::int64_t, 16> kRequestBounds{
    100'000,       250'000,       500'000,       1'000'000,     2'500'000,   5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,   250'000'000, 500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
// An IdP answers in 10 to 500 ms; a cached one on the same host in about a millisecond.
inline constexpr std::array<std::int64_t, 13> kIdpBounds{
    1'000'000,     2'500'000,     5'000'000,     10'000'000,  25'000'000,
    50'000'000,    100'000'000,   250'000'000,   500'000'000, 1'000'000'000,
    2'500'000'000, 5'000'000'000, 10'000'000'000};

inline constexpr std::size_t kMaxBuckets = 16;

// A duration histogram with a single writer: per-bucket counts (not cumulative) and the sum.
class Histogram {
 public:
  explicit Histogram(Bounds bounds) noexcept : bounds_(bounds) {}

  void observe(std::chrono::nanoseconds duration) noexcept {
    if constexpr (!kCounting) return;
    const std::int64_t ns = duration.count();
    std::size_t i = 0;
    while (i < bounds_.size() && ns > bounds_[i]) ++i;
    buckets_[i].add();
    sum_ns_.add(static_cast<std::uint64_t>(ns < 0 ? 0 : ns));
  }

  Bounds bounds() const noexcept { return bounds_; }
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].get(); }
  std::uint64_t sum_ns() const noexcept { return sum_ns_.get(); }

 private:
  Bounds bounds_;
  std::array<Count, kMaxBuckets + 1> buckets_;  // the last one is +Inf
  Count sum_ns_;
};

// A histogram summed over workers, at one moment.
struct HistogramTotal {
  Bounds bounds;
  std::array<std::uint64_t, kMaxBuckets + 1> buckets{};  // not cumulative
  std::uint64_t count = 0;
  double sum_seconds = 0;

  explicit HistogramTotal(Bounds b = {}) : bounds(b) {}
  void add(const Histogram& h);
  // histogram_quantile's estimate: linear within the bucket holding the q-th observation; the
  // largest finite bound when it falls in +Inf; nullopt-like NaN without observations.
  double quantile(double q) const;
};

// One cell per worker, each on its own cache lines.
template <class Cell>
class PerWorker {
 public:
  explicit PerWorker(unsigned workers)
      : size_(workers ? workers : 1), cells_(std::make_unique<Padded[]>(size_)) {}
  Cell& operator[](unsigned worker) noexcept { return cells_[worker].cell; }
  const Cell& operator[](unsigned worker) const noexcept { return cells_[worker].cell; }
  unsigned size() const noexcept { return size_; }

 private:
  struct alignas(64) Padded {
    Cell cell;
  };
  unsigned size_;
  std::unique_ptr<Padded[]> cells_;
};

// The workers' cells summed: `read` gives one cell's value.
template <class Cell, class Read>
std::uint64_t sum(const PerWorker<Cell>& cells, Read read) {
  std::uint64_t total = 0;
  for (unsigned w = 0; w < cells.size(); ++w) total += read(cells[w]);
  return total;
}

// The workers' histograms summed: `pick` gives one cell's histogram.
template <class Cell, class Pick>
HistogramTotal sum_histograms(const PerWorker<Cell>& cells, Pick pick) {
  HistogramTotal total;
  for (unsigned w = 0; w < cells.size(); ++w) total.add(pick(cells[w]));
  return total;
}

}  // namespace tollgate::metrics
