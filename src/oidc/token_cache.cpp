#include "tollgate/oidc/token_cache.hpp"

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tollgate/oidc/claims.hpp"

namespace tollgate::oidc {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

struct KeyHash {
  // The key is already a uniformly distributed digest: its first bytes are a fine hash.
  std::size_t operator()(const CacheKey& key) const noexcept {
    std::size_t out;
    std::memcpy(&out, key.data(), sizeof out);
    return out;
  }
};

// One cached answer: a single node of the shard's hash map, linked into the shard's LRU order
// through the map's own nodes (whose addresses never change), so an entry costs one allocation.
struct Entry;
using Node = std::pair<const CacheKey, Entry>;
struct Entry {
  IntrospectionPtr value;
  SteadyTime expires;
  Node* newer = nullptr;
  Node* older = nullptr;
};

// A move-only completion handler of any type. (asio::any_completion_handler would do, but in Boost
// 1.81 it takes over the handler's cancellation slot and its move assignment never returns.)
class ErasedHandler {
 public:
  template <class Handler>
  explicit ErasedHandler(Handler handler)
      : impl_(std::make_unique<Impl<Handler>>(std::move(handler))) {}

  void operator()(IntrospectionResult result) && {
    auto impl = std::move(impl_);
    impl->call(std::move(result));
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void call(IntrospectionResult result) = 0;
  };
  template <class Handler>
  struct Impl final : Base {
    explicit Impl(Handler h) : handler(std::move(h)) {}
    void call(IntrospectionResult result) override { std::move(handler)(std::move(result)); }
    Handler handler;
  };
  std::unique_ptr<Base> impl_;
};

// One request waiting for an IdP call: its completion handler, its cancellation slot, and a
// work-tracking executor that keeps the waiter's event loop alive while the call runs elsewhere.
struct Waiter {
  std::uint64_t id = 0;
  asio::any_io_executor executor;
  asio::cancellation_slot slot;
  ErasedHandler handler;
};

// Resumes a waiter on its own executor, never inline on the thread that completed the call.
void deliver(Waiter waiter, IntrospectionResult result) {
  asio::any_io_executor executor = std::move(waiter.executor);
  asio::post(executor, [slot = waiter.slot, handler = std::move(waiter.handler),
                        result = std::move(result)]() mutable {
    if (slot.is_connected()) slot.clear();  // on the waiter's thread, where its signal is emitted
    std::move(handler)(std::move(result));
  });
}

std::size_t shard_count_for(std::size_t max_entries) {
  constexpr std::size_t kMaxShards = 16;
  constexpr std::size_t kMinEntriesPerShard = 512;  // small caches keep one exact LRU order
  return std::clamp<std::size_t>(max_entries / kMinEntriesPerShard, 1, kMaxShards);
}

void append_length_prefixed(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

}  // namespace

struct TokenCache::Flight {
  std::uint64_t purges_seen = 0;  // TokenCache::purges_ when the flight began
  std::mutex mutex;  // guards waiters: a cancelled waiter leaves without the shard's lock
  std::uint64_t next_waiter_id = 0;
  std::list<Waiter> waiters;  // a cancelled waiter is unlinked wherever it is
};

// What an entry takes: its map node and bucket slot, and its answer unless that is the one shared
// inactive answer.
std::size_t entry_bytes(const IntrospectionPtr& value) {
  return sizeof(Node) + 2 * sizeof(void*) + (value->active ? value->footprint() : 0);
}

struct alignas(64) TokenCache::Shard {
  mutable std::mutex mutex;
  std::size_t bytes = 0;
  std::uint64_t evictions = 0;
  std::unordered_map<CacheKey, Entry, KeyHash> entries;
  Node* newest = nullptr;  // the LRU order, most recently used first
  Node* oldest = nullptr;
  std::unordered_map<CacheKey, std::shared_ptr<Flight>, KeyHash> flights;
  std::size_t capacity = 0;

  // The fresh entry for `key`, marked most recently used. Expired entries are dropped on sight,
  // but for active ones still within `resurrect` of their end (kept for find_resurrectable).
  IntrospectionPtr find_locked(const CacheKey& key, SteadyTime now, milliseconds resurrect) {
    auto it = entries.find(key);
    if (it == entries.end()) return nullptr;
    Node& node = *it;
    if (node.second.expires <= now) {
      if (!resurrectable(node.second, now, resurrect)) remove(it);
      return nullptr;
    }
    // A hot token is usually the newest already: leaving the order alone spares the writes to
    // lines other workers read for the same token.
    if (newest != &node) {
      unlink(node);
      link_newest(node);
    }
    return node.second.value;
  }

  void insert_locked(const CacheKey& key, IntrospectionPtr value, SteadyTime expires) {
    auto [it, inserted] = entries.try_emplace(key);
    Node& node = *it;
    if (!inserted) bytes -= entry_bytes(node.second.value);
    bytes += entry_bytes(value);
    node.second.value = std::move(value);
    node.second.expires = expires;
    if (!inserted) unlink(node);
    link_newest(node);
    while (entries.size() > capacity) {
      remove(entries.find(oldest->first));
      ++evictions;
    }
  }

  std::size_t erase_locked(const CacheKey& key) {
    auto it = entries.find(key);
    if (it == entries.end()) return 0;
    remove(it);
    return 1;
  }

  std::size_t erase_matching_locked(const Match& match) {
    std::size_t erased = 0;
    for (auto it = entries.begin(); it != entries.end();) {
      auto next = std::next(it);
      if (match(*it->second.value)) {
        remove(it);
        ++erased;
      }
      it = next;
    }
    return erased;
  }

  // The active entry for `key` within `resurrect` of its end, fresh or not, marked most recently
  // used; an expired one past that is dropped.
  IntrospectionPtr find_resurrectable_locked(const CacheKey& key, SteadyTime now,
                                             milliseconds resurrect) {
    auto it = entries.find(key);
    if (it == entries.end()) return nullptr;
    Node& node = *it;
    if (!resurrectable(node.second, now, resurrect)) {
      if (node.second.expires <= now) remove(it);
      return nullptr;
    }
    unlink(node);
    link_newest(node);
    return node.second.value;
  }

  static bool resurrectable(const Entry& entry, SteadyTime now, milliseconds resurrect) {
    return entry.value->active && now < entry.expires + resurrect;
  }

 private:
  void remove(std::unordered_map<CacheKey, Entry, KeyHash>::iterator it) {
    bytes -= entry_bytes(it->second.value);
    unlink(*it);
    entries.erase(it);
  }

  void link_newest(Node& node) {
    node.second.newer = nullptr;
    node.second.older = newest;
    if (newest != nullptr) newest->second.newer = &node;
    newest = &node;
    if (oldest == nullptr) oldest = &node;
  }

  void unlink(Node& node) {
    Entry& entry = node.second;
    (entry.newer != nullptr ? entry.newer->second.older : newest) = entry.older;
    (entry.older != nullptr ? entry.older->second.newer : oldest) = entry.newer;
    entry.newer = entry.older = nullptr;
  }
};

milliseconds cache_ttl_for(const Introspection& answer, std::chrono::system_clock::time_point now,
                           const CachePolicy& policy) {
  if (!answer.active) return policy.ttl_negative;

  milliseconds ttl = policy.ttl;
  if (policy.ttl_max) ttl = std::min(ttl, *policy.ttl_max);

  std::optional<milliseconds> until_expiry;
  const NumericDate exp = numeric_date(answer.claims, "exp");
  if (exp.state == NumericDate::State::malformed) return milliseconds{0};
  if (exp.state == NumericDate::State::valid) {
    until_expiry = clamped_milliseconds(exp.seconds - seconds_since_epoch(now)) - policy.leeway;
    ttl = std::min(ttl, *until_expiry);
  }
  if (policy.ttl_min && ttl < *policy.ttl_min &&
      (!until_expiry || *policy.ttl_min <= *until_expiry)) {
    ttl = *policy.ttl_min;
  }
  return ttl;
}

CacheKey make_cache_key(std::string_view endpoint, std::string_view client_id,
                        std::string_view token) {
  thread_local std::string input;
  input.clear();
  append_length_prefixed(input, endpoint);
  append_length_prefixed(input, client_id);
  input += token;
  CacheKey key = sha256(input);
  OPENSSL_cleanse(input.data(), input.size());  // no copy of the token lingers in this buffer
  return key;
}

std::shared_ptr<TokenCache> TokenCache::create(CachePolicy policy,
                                               std::shared_ptr<const Clock> clock) {
  return std::shared_ptr<TokenCache>(new TokenCache(std::move(policy), std::move(clock)));
}

TokenCache::TokenCache(CachePolicy policy, std::shared_ptr<const Clock> clock)
    : policy_(std::move(policy)),
      clock_(std::move(clock)),
      shard_count_(shard_count_for(std::max<std::size_t>(policy_.max_entries, 1))),
      shards_(new Shard[shard_count_]) {
  policy_.max_entries = std::max<std::size_t>(policy_.max_entries, 1);
  const std::size_t base = policy_.max_entries / shard_count_;
  const std::size_t extra = policy_.max_entries % shard_count_;
  for (std::size_t i = 0; i < shard_count_; ++i) shards_[i].capacity = base + (i < extra ? 1 : 0);
}

TokenCache::~TokenCache() = default;

TokenCache::Shard& TokenCache::shard_for(const CacheKey& key) const {
  return shards_[key.back() % shard_count_];
}

IntrospectionPtr TokenCache::find(const CacheKey& key) {
  const SteadyTime now = clock_->steady_now();
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  return shard.find_locked(key, now, policy_.resurrect);
}

IntrospectionPtr TokenCache::find_resurrectable(const CacheKey& key) {
  if (policy_.resurrect <= milliseconds{0}) return nullptr;
  IntrospectionPtr answer;
  {
    const SteadyTime now = clock_->steady_now();
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    answer = shard.find_resurrectable_locked(key, now, policy_.resurrect);
  }
  if (!answer) return nullptr;
  // Never past the token's own end, whatever the cache times say.
  const NumericDate exp = numeric_date(answer->claims, "exp");
  if (exp.state == NumericDate::State::malformed) return nullptr;
  if (exp.state == NumericDate::State::valid &&
      exp.seconds <= seconds_since_epoch(clock_->wall_now())) {
    return nullptr;
  }
  return answer;
}

void TokenCache::store(const CacheKey& key, IntrospectionPtr answer,
                       std::optional<milliseconds> ttl_cap) {
  insert(key, std::move(answer), ttl_cap, std::nullopt);
}

void TokenCache::insert(const CacheKey& key, IntrospectionPtr answer,
                        std::optional<milliseconds> ttl_cap,
                        std::optional<std::uint64_t> purges_seen) {
  milliseconds ttl = cache_ttl_for(*answer, clock_->wall_now(), policy_);
  if (ttl_cap) ttl = std::min(ttl, *ttl_cap);
  const SteadyTime now = clock_->steady_now();
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  // Checked under the shard's lock: a purge counts before it takes the shard's lock to look, so
  // either this answer is in the shard when the purge looks, or the count has changed.
  if (purges_seen && *purges_seen != purges_.load()) return;
  if (ttl <= milliseconds{0}) {
    shard.erase_locked(key);  // the newest answer says "do not keep": drop any older one
  } else {
    shard.insert_locked(key, std::move(answer), now + ttl);
  }
}

std::size_t TokenCache::erase(const CacheKey& key) {
  purges_.fetch_add(1);
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  return shard.erase_locked(key);
}

asio::awaitable<std::size_t> TokenCache::erase_if(Match match) {
  purges_.fetch_add(1);
  const std::shared_ptr<TokenCache> self = shared_from_this();
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::size_t erased = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    if (i > 0) co_await asio::post(executor, asio::use_awaitable);
    std::lock_guard lock(shards_[i].mutex);
    erased += shards_[i].erase_matching_locked(match);
  }
  co_return erased;
}

asio::awaitable<std::size_t> TokenCache::clear() {
  co_return co_await erase_if([](const Introspection&) { return true; });
}

std::size_t TokenCache::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].entries.size();
  }
  return total;
}

metrics::CacheGauges TokenCache::gauges() const {
  metrics::CacheGauges out;
  out.capacity = policy_.max_entries;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    out.entries += shards_[i].entries.size();
    out.bytes += shards_[i].bytes;
    out.evictions += shards_[i].evictions;
  }
  return out;
}

std::size_t TokenCache::calls_in_flight() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].flights.size();
  }
  return total;
}

void TokenCache::complete_flight(const CacheKey& key, const std::shared_ptr<Flight>& flight,
                                 const Fetched& fetched) {
  const IntrospectionResult& result = fetched.result;
  if (result.has_value()) {
    insert(key, *result, fetched.ttl_cap, flight->purges_seen);
  }
  {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.flights.find(key);
    if (it != shard.flights.end() && it->second == flight) shard.flights.erase(it);
  }
  std::list<Waiter> waiters;
  {
    std::lock_guard lock(flight->mutex);
    waiters.swap(flight->waiters);
  }
  for (Waiter& waiter : waiters) deliver(std::move(waiter), result);
}

asio::awaitable<void> TokenCache::run_flight(std::shared_ptr<TokenCache> cache, CacheKey key,
                                             std::shared_ptr<Flight> flight, BoundedFetch fetch) {
  Fetched fetched{IdpFailure(IdpFailureKind::internal), std::nullopt};
  try {
    fetched = co_await fetch();
  } catch (...) {
    // Waiters get an IdP failure (503); reporting the cause is the fetch's own business.
    fetched = Fetched{IdpFailure(IdpFailureKind::internal), std::nullopt};
  }
  cache->complete_flight(key, flight, fetched);
}

asio::awaitable<IntrospectionResult> TokenCache::get_or_fetch(const CacheKey& key, Fetch fetch,
                                                              metrics::CacheLookup* how) {
  // The wrapper runs inside run_flight, which keeps this std::function (and `fetch` in it) alive.
  BoundedFetch bounded = [fetch = std::move(fetch)]() -> asio::awaitable<Fetched> {
    // Awaited into a named local first: g++ 12 destroys a co_await result used inside a braced
    // initializer twice.
    IntrospectionResult result = co_await fetch();
    co_return Fetched{std::move(result), std::nullopt};
  };
  co_return co_await get_or_fetch(key, std::move(bounded), how);
}

asio::awaitable<IntrospectionResult> TokenCache::get_or_fetch(const CacheKey& key,
                                                              BoundedFetch fetch,
                                                              metrics::CacheLookup* how) {
  metrics::CacheLookup ignored;
  if (how == nullptr) how = &ignored;
  *how = metrics::CacheLookup::hit;
  if (IntrospectionPtr hit = find(key)) co_return hit;

  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::shared_ptr<TokenCache> self = shared_from_this();

  auto initiation = [self, &key, &fetch, &executor, how](auto handler) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    Waiter waiter{0,
                  asio::prefer(asio::get_associated_executor(handler, executor),
                               asio::execution::outstanding_work.tracked),
                  slot, ErasedHandler(std::move(handler))};

    Shard& shard = self->shard_for(key);
    std::shared_ptr<Flight> flight;
    bool leads = false;
    std::uint64_t waiter_id = 0;
    {
      std::unique_lock lock(shard.mutex);
      // Checked again under the lock: the call may have completed since find() missed.
      if (IntrospectionPtr hit =
              shard.find_locked(key, self->clock_->steady_now(), self->policy_.resurrect)) {
        lock.unlock();
        deliver(std::move(waiter), hit);
        return;
      }
      auto it = shard.flights.find(key);
      leads = it == shard.flights.end();
      *how = leads ? metrics::CacheLookup::miss : metrics::CacheLookup::coalesced;
      flight =
          leads ? shard.flights.emplace(key, std::make_shared<Flight>()).first->second : it->second;
      if (leads) flight->purges_seen = self->purges_.load();
      std::lock_guard flight_lock(flight->mutex);
      waiter_id = flight->next_waiter_id++;
      waiter.id = waiter_id;
      flight->waiters.push_back(std::move(waiter));
    }

    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<Flight>(flight), id = waiter_id](asio::cancellation_type) {
        std::shared_ptr<Flight> cancelled_flight = weak.lock();
        if (!cancelled_flight) return;
        std::list<Waiter> leaving;
        {
          std::lock_guard lock(cancelled_flight->mutex);
          auto& waiters = cancelled_flight->waiters;
          auto it = std::find_if(waiters.begin(), waiters.end(),
                                 [id](const Waiter& w) { return w.id == id; });
          if (it == waiters.end()) return;  // already handed its result
          leaving.splice(leaving.begin(), waiters, it);
        }
        deliver(std::move(leaving.front()), IdpFailure(IdpFailureKind::cancelled));
      });
    }

    if (leads) {
      asio::co_spawn(executor, run_flight(self, key, flight, std::move(fetch)), asio::detached);
    }
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(IntrospectionResult)>(initiation,
                                                                     asio::use_awaitable);
}

}  // namespace tollgate::oidc
