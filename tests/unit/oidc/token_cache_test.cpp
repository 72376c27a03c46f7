#include "tollgate/oidc/token_cache.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "oidc_test_support.hpp"

namespace tollgate::oidc {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::answer_from;
using testing::Gate;
using testing::ManualClock;

std::string active_until(std::int64_t exp) {
  return R"({"active":true,"sub":"alice","exp":)" + std::to_string(exp) + "}";
}

class CacheTtlTest : public ::testing::Test {
 protected:
  ManualClock clock;
  CachePolicy policy;  // ttl 300 s, neg 10 s, leeway 5 s

  milliseconds ttl_for(const std::string& json) {
    return cache_ttl_for(*answer_from(json), clock.wall_now(), policy);
  }
  std::int64_t now() const { return clock.epoch_seconds(); }
};

TEST_F(CacheTtlTest, WithoutExpiryTheConfiguredTtlApplies) {
  EXPECT_EQ(ttl_for(R"({"active":true})"), seconds(300));
}

TEST_F(CacheTtlTest, FarExpiryIsBoundedByCacheTtl) {
  EXPECT_EQ(ttl_for(active_until(now() + 3600)), seconds(300));
}

TEST_F(CacheTtlTest, NearExpiryBoundsTheTtlMinusLeeway) {
  EXPECT_EQ(ttl_for(active_until(now() + 60)), seconds(55));
}

TEST_F(CacheTtlTest, CacheTtlMaxLowersTheTtl) {
  policy.ttl_max = seconds(30);
  EXPECT_EQ(ttl_for(active_until(now() + 3600)), seconds(30));
  EXPECT_EQ(ttl_for(active_until(now() + 20)), seconds(15));
}

TEST_F(CacheTtlTest, CacheTtlMinRaisesOnlyWithinTheTokenLifetime) {
  policy.ttl = seconds(10);
  policy.ttl_min = seconds(60);
  EXPECT_EQ(ttl_for(active_until(now() + 3600)), seconds(60));
  EXPECT_EQ(ttl_for(R"({"active":true})"), seconds(60));
  // Raising to 60 s would outlive the token (exp - leeway = 25 s): the lower bound stays.
  EXPECT_EQ(ttl_for(active_until(now() + 30)), seconds(10));
}

TEST_F(CacheTtlTest, ExpiredOrAlmostExpiredTokensAreNotCached) {
  EXPECT_LE(ttl_for(active_until(now() - 1)).count(), 0);
  EXPECT_LE(ttl_for(active_until(now() + 5)).count(), 0);  // within the leeway
}

TEST_F(CacheTtlTest, InactiveAnswersUseTheNegativeTtl) {
  EXPECT_EQ(ttl_for(R"({"active":false})"), seconds(10));
  policy.ttl_negative = seconds(0);
  EXPECT_EQ(ttl_for(R"({"active":false})"), seconds(0));
}

TEST_F(CacheTtlTest, MalformedExpiryIsNotCached) {
  EXPECT_EQ(ttl_for(R"({"active":true,"exp":"tomorrow"})"), seconds(0));
}

TEST_F(CacheTtlTest, HugeExpiryDoesNotOverflow) {
  EXPECT_EQ(ttl_for(R"({"active":true,"exp":1e300})"), seconds(300));
  EXPECT_LE(ttl_for(R"({"active":true,"exp":-1e300})").count(), 0);
}

CacheKey key_of(int i) {
  return make_cache_key("https://idp/introspect", "gateway", "t" + std::to_string(i));
}

TEST(CacheKeyTest, EveryPartMattersAndPartsCannotBeShifted) {
  const CacheKey base = make_cache_key("https://idp/i", "gw", "token");
  EXPECT_NE(base, make_cache_key("https://idp/j", "gw", "token"));
  EXPECT_NE(base, make_cache_key("https://idp/i", "gx", "token"));
  EXPECT_NE(base, make_cache_key("https://idp/i", "gw", "tokem"));
  EXPECT_NE(make_cache_key("a", "bc", "t"), make_cache_key("ab", "c", "t"));
  EXPECT_EQ(base, make_cache_key("https://idp/i", "gw", "token"));
}

class TokenCacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  CachePolicy policy;

  std::shared_ptr<TokenCache> make_cache() { return TokenCache::create(policy, clock); }
};

TEST_F(TokenCacheTest, AnswerIsServedUntilItsTtlAndAHitNeverExtendsIt) {
  auto cache = make_cache();
  const auto answer = answer_from(active_until(clock->epoch_seconds() + 65));  // TTL 60 s
  cache->store(key_of(1), answer);

  clock->advance(seconds(30));
  EXPECT_EQ(cache->find(key_of(1)), answer);
  clock->advance(seconds(29));
  EXPECT_EQ(cache->find(key_of(1)), answer);
  clock->advance(seconds(1));
  EXPECT_EQ(cache->find(key_of(1)), nullptr);
  EXPECT_EQ(cache->size(), 0u);
}

TEST_F(TokenCacheTest, AnExpiredActiveAnswerIsKeptForTheResurrectWindowOnly) {
  policy.ttl = seconds(60);
  policy.resurrect = seconds(30);
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  cache->store(key_of(1), answer);
  EXPECT_EQ(cache->find_resurrectable(key_of(1)), answer);  // fresh: also served

  clock->advance(seconds(60));
  EXPECT_EQ(cache->find(key_of(1)), nullptr);  // a miss for every other lookup
  EXPECT_EQ(cache->size(), 1u);                // but kept
  EXPECT_EQ(cache->find_resurrectable(key_of(1)), answer);
  clock->advance(seconds(29));
  EXPECT_EQ(cache->find_resurrectable(key_of(1)), answer);
  clock->advance(seconds(1));
  EXPECT_EQ(cache->find_resurrectable(key_of(1)), nullptr);
  EXPECT_EQ(cache->size(), 0u);
}

TEST_F(TokenCacheTest, NothingIsResurrectedPastExpOrFromAnInactiveAnswerOrByDefault) {
  policy.ttl = seconds(60);
  policy.resurrect = seconds(3600);
  auto cache = make_cache();
  cache->store(key_of(1), answer_from(active_until(clock->epoch_seconds() + 70)));  // TTL 60 s
  cache->store(key_of(2), answer_from(R"({"active":false})"));
  clock->advance(seconds(69));
  EXPECT_NE(cache->find_resurrectable(key_of(1)), nullptr);
  clock->advance(seconds(1));
  EXPECT_EQ(cache->find_resurrectable(key_of(1)), nullptr);  // exp reached
  EXPECT_EQ(cache->find_resurrectable(key_of(2)), nullptr);
  EXPECT_EQ(cache->find(key_of(2)), nullptr);
  EXPECT_EQ(cache->size(), 1u);  // the inactive one is dropped once seen expired

  policy.resurrect = seconds(0);
  auto strict = make_cache();
  strict->store(key_of(3), answer_from(R"({"active":true})"));
  clock->advance(seconds(60));
  EXPECT_EQ(strict->find(key_of(3)), nullptr);
  EXPECT_EQ(strict->find_resurrectable(key_of(3)), nullptr);
  EXPECT_EQ(strict->size(), 0u);
}

TEST_F(TokenCacheTest, NegativeAnswerIsKeptOnlyTheNegativeTtl) {
  auto cache = make_cache();
  cache->store(key_of(1), answer_from(R"({"active":false})"));
  clock->advance(milliseconds(9'999));
  ASSERT_NE(cache->find(key_of(1)), nullptr);
  EXPECT_FALSE(cache->find(key_of(1))->active);
  clock->advance(milliseconds(1));
  EXPECT_EQ(cache->find(key_of(1)), nullptr);
}

TEST_F(TokenCacheTest, AnswerWithoutLifetimeLeftIsNotStoredAndReplacesAnOlderOne) {
  auto cache = make_cache();
  cache->store(key_of(1), answer_from(R"({"active":true})"));
  ASSERT_NE(cache->find(key_of(1)), nullptr);
  cache->store(key_of(1), answer_from(active_until(clock->epoch_seconds() + 2)));
  EXPECT_EQ(cache->find(key_of(1)), nullptr);
  EXPECT_EQ(cache->size(), 0u);
}

TEST_F(TokenCacheTest, EntriesAreBoundedAndTheOldestAreEvicted) {
  policy.max_entries = 100;
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  for (int i = 0; i < 200; ++i) {
    cache->store(key_of(i), answer);
    ASSERT_LE(cache->size(), 100u);
  }
  EXPECT_EQ(cache->size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cache->find(key_of(i)), nullptr) << i;
  for (int i = 100; i < 200; ++i) EXPECT_NE(cache->find(key_of(i)), nullptr) << i;
}

TEST_F(TokenCacheTest, RecentlyUsedEntriesSurviveEviction) {
  policy.max_entries = 3;
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  cache->store(key_of(0), answer);
  cache->store(key_of(1), answer);
  cache->store(key_of(2), answer);
  ASSERT_NE(cache->find(key_of(0)), nullptr);  // 1 is now the least recently used
  cache->store(key_of(3), answer);
  EXPECT_NE(cache->find(key_of(0)), nullptr);
  EXPECT_EQ(cache->find(key_of(1)), nullptr);
  EXPECT_NE(cache->find(key_of(2)), nullptr);
  EXPECT_NE(cache->find(key_of(3)), nullptr);
}

// A hit on the newest entry leaves the order as it is; the others still move to the front.
TEST_F(TokenCacheTest, HitsOnTheNewestEntryKeepTheOrder) {
  policy.max_entries = 3;
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  cache->store(key_of(0), answer);
  cache->store(key_of(1), answer);
  cache->store(key_of(2), answer);
  for (int i = 0; i < 3; ++i) ASSERT_NE(cache->find(key_of(2)), nullptr);
  ASSERT_NE(cache->find(key_of(0)), nullptr);  // order now 0, 2, 1
  ASSERT_NE(cache->find(key_of(0)), nullptr);
  cache->store(key_of(3), answer);  // evicts 1
  EXPECT_EQ(cache->find(key_of(1)), nullptr);
  cache->store(key_of(4), answer);  // evicts 2
  EXPECT_EQ(cache->find(key_of(2)), nullptr);
  EXPECT_NE(cache->find(key_of(0)), nullptr);
  EXPECT_NE(cache->find(key_of(3)), nullptr);
  EXPECT_NE(cache->find(key_of(4)), nullptr);
}

TEST_F(TokenCacheTest, ShardedCacheStaysWithinItsCapacity) {
  policy.max_entries = 16 * 1024;
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  for (int i = 0; i < 2 * 16 * 1024; ++i) cache->store(key_of(i), answer);
  EXPECT_LE(cache->size(), cache->capacity());
  EXPECT_GE(cache->size(), cache->capacity() * 9 / 10);  // shards fill evenly
  EXPECT_NE(cache->find(key_of(2 * 16 * 1024 - 1)), nullptr);
  EXPECT_EQ(cache->find(key_of(0)), nullptr);
}

// The gauges follow every way an entry comes and goes: stored, replaced, expired, evicted.
TEST_F(TokenCacheTest, GaugesCountEntriesTheirBytesAndEvictions) {
  policy.max_entries = 3;
  auto cache = make_cache();
  const auto active = answer_from(R"({"active":true,"sub":"alice","scope":"a b"})");
  const auto inactive = answer_from(R"({"active":false})");
  cache->store(key_of(1), active);
  const std::size_t with_active = cache->gauges().bytes;
  EXPECT_GT(with_active, active->footprint());
  cache->store(key_of(2), inactive);
  const std::size_t node = cache->gauges().bytes - with_active;  // the shared inactive answer
  EXPECT_EQ(with_active, node + active->footprint());
  cache->store(key_of(3), active);
  cache->store(key_of(4), active);  // evicts key 1
  metrics::CacheGauges gauges = cache->gauges();
  EXPECT_EQ(gauges.entries, 3u);
  EXPECT_EQ(gauges.evictions, 1u);
  EXPECT_EQ(gauges.capacity, 3u);
  EXPECT_EQ(gauges.bytes, 3 * node + 2 * active->footprint());
  cache->store(key_of(3), inactive);  // replaced
  EXPECT_EQ(cache->gauges().bytes, 3 * node + active->footprint());
  clock->advance(seconds(3600));  // everything expires, and goes when looked up
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(cache->find(key_of(i)), nullptr);
  gauges = cache->gauges();
  EXPECT_EQ(gauges.entries, 0u);
  EXPECT_EQ(gauges.bytes, 0u);
  EXPECT_EQ(gauges.evictions, 1u);
}

// Runs `contexts` on one thread each until they have nothing ready to do, all at the same time.
void poll_concurrently(std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<std::thread> threads;
  for (auto& context : contexts) threads.emplace_back([&context] { context->poll(); });
  for (auto& thread : threads) thread.join();
}

void run_concurrently(std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<std::thread> threads;
  for (auto& context : contexts) threads.emplace_back([&context] { context->run(); });
  for (auto& thread : threads) thread.join();
}

struct WaiterOutcome {
  std::optional<IntrospectionResult> result;
  bool resumed_on_own_executor = false;
  std::optional<metrics::CacheLookup> how;
};

asio::awaitable<void> wait_for_answer(std::shared_ptr<TokenCache> cache, CacheKey key,
                                      TokenCache::Fetch fetch, WaiterOutcome& outcome,
                                      asio::io_context& own_context) {
  metrics::CacheLookup how = metrics::CacheLookup::hit;
  IntrospectionResult result = co_await cache->get_or_fetch(key, std::move(fetch), &how);
  outcome.how = how;
  outcome.resumed_on_own_executor = own_context.get_executor().running_in_this_thread();
  outcome.result = std::move(result);
}

class SingleFlightTest : public TokenCacheTest {
 protected:
  static constexpr int kWaiters = 64;
  static constexpr int kContexts = 4;

  SingleFlightTest() {
    for (int i = 0; i < kContexts; ++i) contexts.push_back(std::make_unique<asio::io_context>());
  }

  // A fake IdP call that counts itself and holds until the gate opens.
  TokenCache::Fetch gated_fetch(IntrospectionResult result) {
    return [this, result]() -> asio::awaitable<IntrospectionResult> {
      ++calls;
      co_await gate.wait();
      co_return result;
    };
  }

  void spawn_waiters(std::shared_ptr<TokenCache> cache, const CacheKey& key,
                     IntrospectionResult result, int first = 0) {
    for (int i = first; i < kWaiters; ++i) {
      asio::io_context& context = *contexts[i % kContexts];
      asio::co_spawn(context,
                     wait_for_answer(cache, key, gated_fetch(result), outcomes[i], context),
                     asio::detached);
    }
  }

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::array<WaiterOutcome, kWaiters> outcomes;
  std::atomic<int> calls{0};
  Gate gate;
};

TEST_F(SingleFlightTest, ConcurrentMissesOnSeveralThreadsMakeOneCallAndAllGetItsAnswer) {
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true,"sub":"alice"})");
  spawn_waiters(cache, key_of(1), answer);

  poll_concurrently(contexts);  // every waiter is now parked on the one call
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache->calls_in_flight(), 1u);
  gate.open();
  run_concurrently(contexts);

  EXPECT_EQ(calls.load(), 1);
  int misses = 0;
  for (const WaiterOutcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.result.has_value());
    ASSERT_TRUE(outcome.result->has_value());
    EXPECT_EQ(**outcome.result, answer);
    EXPECT_TRUE(outcome.resumed_on_own_executor);
    // The one that started the call missed; every other joined it.
    ASSERT_TRUE(outcome.how.has_value());
    misses += *outcome.how == metrics::CacheLookup::miss;
    EXPECT_NE(*outcome.how, metrics::CacheLookup::hit);
  }
  EXPECT_EQ(misses, 1);
  EXPECT_EQ(cache->calls_in_flight(), 0u);
  EXPECT_EQ(cache->find(key_of(1)), answer);
}

TEST_F(SingleFlightTest, FailureGoesToCurrentWaitersOnlyAndIsNotCached) {
  auto cache = make_cache();
  spawn_waiters(cache, key_of(1), IdpFailure(IdpFailureKind::http_status, 429, seconds(7)));
  poll_concurrently(contexts);
  gate.open();
  run_concurrently(contexts);

  EXPECT_EQ(calls.load(), 1);
  for (const WaiterOutcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.result.has_value());
    ASSERT_TRUE(outcome.result->has_error());
    EXPECT_EQ(outcome.result->error().kind, IdpFailureKind::http_status);
    EXPECT_EQ(outcome.result->error().retry_after, seconds(7));
  }
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->calls_in_flight(), 0u);

  // The next request asks the IdP again.
  asio::io_context context;
  WaiterOutcome next;
  const auto answer = answer_from(R"({"active":true})");
  asio::co_spawn(context,
                 wait_for_answer(
                     cache, key_of(1),
                     [&]() -> asio::awaitable<IntrospectionResult> {
                       ++calls;
                       co_return answer;
                     },
                     next, context),
                 asio::detached);
  context.run();
  EXPECT_EQ(calls.load(), 2);
  ASSERT_TRUE(next.result && next.result->has_value());
  EXPECT_EQ(**next.result, answer);
}

TEST_F(SingleFlightTest, CancelledLeaderLeavesAndTheCallStillAnswersTheOthers) {
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  asio::cancellation_signal leader_signal;
  asio::io_context& leader_context = *contexts[0];
  asio::co_spawn(
      leader_context,
      wait_for_answer(cache, key_of(1), gated_fetch(answer), outcomes[0], leader_context),
      asio::bind_cancellation_slot(leader_signal.slot(), asio::detached));
  leader_context.poll();  // the leader starts the call
  spawn_waiters(cache, key_of(1), answer, /*first=*/1);
  poll_concurrently(contexts);

  leader_signal.emit(asio::cancellation_type::terminal);  // the leader's client went away
  leader_context.poll();
  ASSERT_TRUE(outcomes[0].result.has_value());
  ASSERT_TRUE(outcomes[0].result->has_error());
  EXPECT_EQ(outcomes[0].result->error().kind, IdpFailureKind::cancelled);

  gate.open();
  run_concurrently(contexts);
  EXPECT_EQ(calls.load(), 1);
  for (int i = 1; i < kWaiters; ++i) {
    ASSERT_TRUE(outcomes[i].result && outcomes[i].result->has_value()) << i;
    EXPECT_EQ(**outcomes[i].result, answer);
  }
  EXPECT_EQ(cache->find(key_of(1)), answer);
}

TEST_F(SingleFlightTest, ThrowingFetchIsAnIdpFailureForEveryWaiter) {
  auto cache = make_cache();
  asio::io_context context;
  WaiterOutcome outcome;
  asio::co_spawn(context,
                 wait_for_answer(
                     cache, key_of(1),
                     []() -> asio::awaitable<IntrospectionResult> {
                       throw std::runtime_error("unexpected");
                       co_return IdpFailure();
                     },
                     outcome, context),
                 asio::detached);
  context.run();
  ASSERT_TRUE(outcome.result && outcome.result->has_error());
  EXPECT_EQ(outcome.result->error().kind, IdpFailureKind::internal);
  EXPECT_EQ(cache->calls_in_flight(), 0u);
}

TEST_F(SingleFlightTest, CachedAnswerIsServedWithoutAnotherCall) {
  auto cache = make_cache();
  const auto answer = answer_from(R"({"active":true})");
  cache->store(key_of(1), answer);
  asio::io_context context;
  WaiterOutcome outcome;
  asio::co_spawn(context, wait_for_answer(cache, key_of(1), gated_fetch(answer), outcome, context),
                 asio::detached);
  context.run();
  EXPECT_EQ(calls.load(), 0);
  ASSERT_TRUE(outcome.result && outcome.result->has_value());
  EXPECT_EQ(**outcome.result, answer);
}

// Runs `purge` (one of the cache's awaitable purges) to completion and returns what it removed.
std::size_t run_purge(std::function<asio::awaitable<std::size_t>()> purge) {
  asio::io_context context;
  std::size_t removed = 0;
  asio::co_spawn(context, purge(), [&](std::exception_ptr e, std::size_t n) {
    if (e) std::rethrow_exception(e);
    removed = n;
  });
  context.run();
  return removed;
}

std::string answer_for(const std::string& sub, const std::string& client_id) {
  return R"({"active":true,"sub":")" + sub + R"(","client_id":")" + client_id + R"("})";
}

TEST_F(TokenCacheTest, PurgesRemoveByKeyByClaimOrEverything) {
  policy.max_entries = 4096;  // several shards, so a purge visits each of them
  policy.resurrect = seconds(600);
  auto cache = make_cache();
  for (int i = 0; i < 300; ++i) {
    cache->store(key_of(i), answer_from(answer_for(i % 3 == 0 ? "alice" : "bob",
                                                   i % 2 == 0 ? "app-even" : "app-odd")));
  }
  EXPECT_EQ(cache->erase(key_of(1)), 1u);
  EXPECT_EQ(cache->erase(key_of(1)), 0u);
  EXPECT_EQ(cache->find(key_of(1)), nullptr);

  // alice: every third entry (100).
  EXPECT_EQ(run_purge([&] {
              return cache->erase_if([](const Introspection& answer) {
                return answer.claims.find("sub").string() == "alice";
              });
            }),
            100u);
  EXPECT_EQ(cache->find(key_of(3)), nullptr);
  EXPECT_NE(cache->find(key_of(2)), nullptr);
  EXPECT_EQ(cache->size(), 199u);

  // An entry kept only for resurrection goes too: a purged answer is never served again.
  clock->advance(seconds(400));
  EXPECT_EQ(cache->find(key_of(2)), nullptr);
  EXPECT_NE(cache->find_resurrectable(key_of(2)), nullptr);
  EXPECT_EQ(run_purge([&] { return cache->clear(); }), 199u);
  EXPECT_EQ(cache->find_resurrectable(key_of(2)), nullptr);
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->gauges().bytes, 0u);
}

// An IdP call in flight when a purge comes answers its waiters, but its answer is not kept: it may
// say what the purge was made to forget (an application deactivated since the call began).
TEST_F(SingleFlightTest, AnAnswerFetchedAcrossAPurgeIsNotKept) {
  auto cache = make_cache();
  const auto answer = answer_from(answer_for("alice", "app"));
  spawn_waiters(cache, key_of(1), answer);
  poll_concurrently(contexts);             // the call is under way
  EXPECT_EQ(cache->erase(key_of(2)), 0u);  // any purge, even of another key
  gate.open();
  run_concurrently(contexts);
  for (const WaiterOutcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.result && outcome.result->has_value());
    EXPECT_EQ(**outcome.result, answer);
  }
  EXPECT_EQ(cache->find(key_of(1)), nullptr);

  // A call that begins after the purge is kept as always.
  asio::io_context context;
  WaiterOutcome next;
  asio::co_spawn(
      context,
      wait_for_answer(
          cache, key_of(1), [&]() -> asio::awaitable<IntrospectionResult> { co_return answer; },
          next, context),
      asio::detached);
  context.run();
  EXPECT_EQ(cache->find(key_of(1)), answer);
}

}  // namespace
}  // namespace tollgate::oidc
