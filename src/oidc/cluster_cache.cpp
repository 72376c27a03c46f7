#include "tollgate/oidc/cluster_cache.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "sealed_value.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {
namespace {

using metrics::PurgeScope;
using std::chrono::milliseconds;

constexpr redis::Accepts kValueReply =
    redis::accepts({redis::Reply::Type::string, redis::Reply::Type::nil});
constexpr redis::Accepts kSetReply =
    redis::accepts({redis::Reply::Type::status, redis::Reply::Type::nil});
constexpr redis::Accepts kArrayReply = redis::accepts({redis::Reply::Type::array});
constexpr redis::Accepts kIntegerReply = redis::accepts({redis::Reply::Type::integer});
// How often a replica waiting for another's IdP call looks for its answer.
constexpr milliseconds kPollInterval{15};
constexpr std::size_t kExpiryBytes = 8;
// Keys a purge deletes per command, and the most rounds it makes (10 million answers).
constexpr std::size_t kPurgeBatch = 500;
constexpr int kMaxPurgeRounds = 20'000;
// The subscriber checks its connection this often (a PING), and waits this long between tries to
// subscribe while its breaker lets it.
constexpr milliseconds kSubscriberPing{1'000};
constexpr milliseconds kSubscriberRetry{200};
// What a purge of all deletes: the answers first, then their indexes.
constexpr std::array<std::string_view, 3> kScannedKinds = {"tok:", "who:", "app:"};
// The most values a purge message names (one tag per listed cluster_cache_key).
constexpr std::size_t kMaxMessageValues = 16;

// Stores an answer unless a purge came since the storing replica read the generation; releases
// that replica's lock either way; lists the answer under its sub and client_id.
//   KEYS: answer, generation, lock, then the index sets
//   ARGV: value, ttl ms, "NX" or "", generation read, lock owner ("": none), member, expiry
//         (Unix ms), now (Unix ms): index members whose answers have expired are dropped
constexpr std::string_view kStoreScript = R"lua(
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[4] then return 0 end
if ARGV[3] == 'NX' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[7], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[8])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
)lua";

// Deletes a lock only while it still holds the owner's value: a lock that expired and was taken by
// another replica is not released by mistake.
constexpr std::string_view kUnlockScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

std::int64_t unix_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<milliseconds>(at.time_since_epoch()).count();
}

std::string random_replica_id() {
  std::array<unsigned char, 8> random{};
  if (RAND_bytes(random.data(), random.size()) != 1) random.fill(0);
  std::string id = std::to_string(getpid()) + "-";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : random) {
    id += kHex[byte >> 4];
    id += kHex[byte & 0xf];
  }
  return id;
}

// A claim's value as Redis may show it: an HMAC under a key only the replicas hold.
std::string tag_of(const std::string& tag_key, PurgeScope scope, std::string_view value) {
  std::string input(metrics::name_of(scope));
  input += '\n';
  input += value;
  return to_hex(hmac_sha256(tag_key, input));
}

// `prefix` as a SCAN pattern matches it literally.
std::string glob_escaped(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::optional<PurgeScope> scope_named(std::string_view name) {
  for (std::size_t i = 0; i < metrics::kPurgeScopes; ++i) {
    const auto scope = static_cast<PurgeScope>(i);
    if (metrics::name_of(scope) == name) return scope;
  }
  return std::nullopt;
}

std::string describe(const redis::ReplyResult& reply) {
  if (!reply) return "redis " + std::string(redis::to_string(reply.error()));
  return "redis answered: " + reply->text;
}

bool failed(const redis::ReplyResult& reply) {
  return !reply || reply->type == redis::Reply::Type::error;
}

}  // namespace

struct ClusterCache::Worker {
  std::shared_ptr<redis::Client> client;
  asio::any_io_executor executor;
  std::atomic<redis::BreakerState> state{redis::BreakerState::closed};  // read by /readyz
  std::uint64_t locks_taken = 0;  // on this worker's thread only: makes each lock's owner unique
};

// The one connection a process keeps subscribed to "<prefix>purge", on a worker's event loop. It
// resubscribes after a failure, as the breaker lets it, and then reads the purge generation: one
// that moved while it was away means it may have missed a purge, so the first level is emptied.
struct ClusterCache::Subscriber : std::enable_shared_from_this<Subscriber> {
  Subscriber(asio::any_io_executor on, unsigned worker_index)
      : executor(std::move(on)), worker(worker_index), timer(executor) {}

  asio::any_io_executor executor;
  unsigned worker;
  redis::Options options;
  std::shared_ptr<ssl::context> tls_context;
  std::shared_ptr<redis::Client> client;  // the worker's, for the generation
  std::string channel;
  std::string generation_key;
  std::string replica_id;
  std::string label;
  std::string where;
  std::string tag_key;  // the first one: what this process's entries are compared under
  PurgeHandler on_purge;
  redis::Breaker breaker;
  std::shared_ptr<redis::Connection> connection;
  asio::steady_timer timer;
  bool stopped = false;
  std::optional<long long> generation_seen;

  // On the subscriber's thread.
  void stop() {
    stopped = true;
    timer.cancel();
    if (connection) connection->close(redis::Failure::closed);
  }

  awaitable<void> pause(milliseconds how_long) {
    timer.expires_after(how_long);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  void see_generation(long long generation) {
    generation_seen = std::max(generation, generation_seen.value_or(generation));
  }

  void hand_over(PurgeNotice notice) {
    if (!on_purge) return;
    notice.worker = worker;
    asio::co_spawn(executor, on_purge(std::move(notice)), asio::detached);
  }

  void on_message(const redis::Reply& reply) {
    if (reply.elements.size() != 3 || reply.elements[2].type != redis::Reply::Type::string) return;
    const nlohmann::json message = nlohmann::json::parse(reply.elements[2].text, nullptr, false);
    if (!message.is_object()) return;
    const auto from = message.find("from");
    const auto generation = message.find("generation");
    const auto scope_name = message.find("scope");
    const auto values = message.find("values");
    if (from == message.end() || !from->is_string() || generation == message.end() ||
        !generation->is_number_integer() || scope_name == message.end() ||
        !scope_name->is_string() || values == message.end() || !values->is_array() ||
        values->size() > kMaxMessageValues) {
      spdlog::warn(
          "openid-connect[{}]: cluster cache: a purge message that does not parse, ignored", label);
      return;
    }
    const std::optional<PurgeScope> scope = scope_named(scope_name->get<std::string>());
    std::set<std::string, std::less<>> tags;
    for (const nlohmann::json& value : *values) {
      if (value.is_string()) tags.insert(value.get<std::string>());
    }
    if (!scope) return;
    see_generation(generation->get<long long>());
    if (from->get<std::string>() == replica_id) return;  // applied here already

    PurgeNotice notice;
    notice.scope = *scope;
    if (*scope == PurgeScope::key) {
      const std::optional<CacheKey> key =
          tags.empty() ? std::nullopt : sha256_from_hex(*tags.begin());
      if (!key) return;
      notice.key = *key;
    } else if (*scope != PurgeScope::all) {
      notice.matches = [tags = std::move(tags), tag_key = tag_key,
                        scope = *scope](std::string_view value) {
        return tags.contains(tag_of(tag_key, scope, value));
      };
    }
    hand_over(std::move(notice));
  }

  static awaitable<void> run(std::shared_ptr<Subscriber> self) {
    bool logged_failure = false;
    while (!self->stopped) {
      if (!self->breaker.allow(redis::Breaker::Clock::now())) {
        co_await self->pause(kSubscriberRetry);
        continue;
      }
      std::weak_ptr<Subscriber> weak = self;
      self->connection = redis::Connection::open(self->executor, self->options, self->tls_context,
                                                 [weak](const redis::Reply& message) {
                                                   if (auto subscriber = weak.lock())
                                                     subscriber->on_message(message);
                                                 });
      const std::shared_ptr<redis::Connection> connection = self->connection;
      const auto subscribe = redis::arguments("SUBSCRIBE", self->channel);
      const redis::ReplyResult subscribed = co_await connection->command(subscribe, kArrayReply);
      // After subscribing, so that no purge can fall between the two.
      redis::ReplyResult generation = redis::Failure::closed;
      if (!failed(subscribed) && !self->stopped) {
        const auto get = redis::arguments("GET", self->generation_key);
        generation = co_await self->client->command(get, kValueReply);
      }
      if (self->stopped) break;
      if (failed(subscribed) || failed(generation)) {
        connection->close(redis::Failure::closed);
        self->breaker.failed(redis::Breaker::Clock::now());
        if (!logged_failure) {
          spdlog::warn(
              "openid-connect[{}]: cluster cache: cannot subscribe to purges on redis {} ({}); "
              "retrying",
              self->label, self->where, describe(failed(subscribed) ? subscribed : generation));
          logged_failure = true;
        }
        co_await self->pause(kSubscriberRetry);
        continue;
      }
      self->breaker.succeeded();
      logged_failure = false;
      const long long now = generation->type == redis::Reply::Type::nil
                                ? 0
                                : std::strtoll(generation->text.c_str(), nullptr, 10);
      if (self->generation_seen && *self->generation_seen != now) {
        spdlog::warn(
            "openid-connect[{}]: cluster cache: purges may have been missed while the "
            "subscription was down; emptying the local cache",
            self->label);
        self->hand_over(PurgeNotice{});  // scope all
      }
      self->generation_seen = now;
      spdlog::info("openid-connect[{}]: cluster cache: subscribed to purges on redis {}",
                   self->label, self->where);

      // Until the connection fails: a PING now and then notices a peer gone silent.
      while (!self->stopped && connection->usable()) {
        co_await self->pause(kSubscriberPing);
        if (self->stopped || !connection->usable()) break;
        const auto ping = redis::arguments("PING");
        if (failed(co_await connection->command(ping, kArrayReply))) break;
      }
      connection->close(redis::Failure::closed);
      if (self->stopped) break;
      spdlog::warn(
          "openid-connect[{}]: cluster cache: lost the purge subscription on redis {}; "
          "resubscribing",
          self->label, self->where);
      self->breaker.failed(redis::Breaker::Clock::now());
      logged_failure = true;
    }
    self->connection.reset();
  }
};

ClusterCache::ClusterCache(ClusterCacheSettings settings, std::string label)
    : settings_(std::move(settings)),
      label_(std::move(label)),
      replica_id_(random_replica_id()),
      sealer_(std::make_unique<Sealer>(settings_.keys)) {
  for (const auto& key : settings_.keys) {
    const Sha256 derived =
        hmac_sha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                    "tollgate cluster cache tag key");
    tag_keys_.emplace_back(reinterpret_cast<const char*>(derived.data()), derived.size());
  }
  if (settings_.redis.ssl) {
    tls_context_ = upstream::make_client_tls_context(settings_.ca_file, settings_.redis.ssl_verify);
  }
}

ClusterCache::~ClusterCache() = default;

void ClusterCache::start(const std::vector<asio::any_io_executor>& executors,
                         PurgeHandler on_purge) {
  if (!workers_.empty()) return;
  const std::string where = settings_.redis.host + ":" + std::to_string(settings_.redis.port);
  for (std::size_t i = 0; i < executors.size(); ++i) {
    auto worker = std::make_shared<Worker>();
    worker->executor = executors[i];
    // Each transition is logged once, by the worker it happened on.
    auto on_transition = [label = label_, where, i,
                          state = std::weak_ptr<Worker>(worker)](redis::BreakerState now) {
      if (auto w = state.lock()) w->state.store(now, std::memory_order_relaxed);
      if (now == redis::BreakerState::open) {
        spdlog::warn(
            "openid-connect[{}]: cluster cache: redis {} failing on worker {}; using the "
            "local cache and the IdP alone until it answers again",
            label, where, i);
      } else if (now == redis::BreakerState::closed) {
        spdlog::info("openid-connect[{}]: cluster cache: redis {} answers again on worker {}",
                     label, where, i);
      }
    };
    worker->client = std::make_shared<redis::Client>(executors[i], settings_.redis, tls_context_,
                                                     std::move(on_transition));
    workers_.push_back(std::move(worker));
  }
  if (executors.empty()) return;
  // On the first worker, whose thread also runs the admin listener: purges are counted there.
  subscriber_ = std::make_shared<Subscriber>(executors.front(), 0);
  Subscriber& s = *subscriber_;
  s.options = settings_.redis;
  s.tls_context = tls_context_;
  s.client = workers_.front()->client;
  s.channel = settings_.prefix + "purge";
  s.generation_key = settings_.prefix + "gen";
  s.replica_id = replica_id_;
  s.label = label_;
  s.where = where;
  s.tag_key = tag_keys_.front();
  s.on_purge = std::move(on_purge);
  asio::co_spawn(s.executor, Subscriber::run(subscriber_), asio::detached);
}

void ClusterCache::stop() {
  if (!subscriber_) return;
  asio::post(subscriber_->executor, [subscriber = subscriber_] { subscriber->stop(); });
}

void ClusterCache::release_worker(unsigned worker) {
  if (subscriber_ && subscriber_->worker == worker) subscriber_->stop();
  if (worker < workers_.size() && workers_[worker]) workers_[worker]->client->close();
}

redis::BreakerState ClusterCache::state() const noexcept {
  redis::BreakerState worst = redis::BreakerState::closed;
  for (const auto& worker : workers_) {
    const redis::BreakerState state = worker->state.load(std::memory_order_relaxed);
    if (state == redis::BreakerState::open) return state;
    if (state == redis::BreakerState::half_open) worst = state;
  }
  return worst;
}

std::string ClusterCache::redis_key(const CacheKey& key) const {
  return settings_.prefix + "tok:" + to_hex(key);
}

std::string ClusterCache::index_key(PurgeScope scope, std::string_view value,
                                    std::size_t index) const {
  return settings_.prefix + (scope == PurgeScope::sub ? "who:" : "app:") +
         tag_of(tag_keys_[index], scope, value);
}

namespace {

// A stored value as the lookup ends on it: an answer, or unreadable (or a miss once expired).
std::pair<ClusterLookup, std::optional<ClusterCache::Found>> open_value(const Sealer& sealer,
                                                                        const std::string& name,
                                                                        const std::string& sealed) {
  // Not sealed under this key's name with a key this process holds, expired, or not an answer:
  // a miss, never an answer.
  const std::optional<std::string> plain = sealer.open(name, sealed);
  if (!plain || plain->size() < kExpiryBytes) return {ClusterLookup::unreadable, std::nullopt};
  std::int64_t expires = 0;
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    expires = (expires << 8) | static_cast<unsigned char>((*plain)[i]);
  }
  const auto now = std::chrono::system_clock::now();
  const milliseconds left{expires - unix_ms(now)};
  if (left <= milliseconds::zero()) return {ClusterLookup::miss, std::nullopt};
  IntrospectionResult parsed =
      parse_introspection_response(200, "", plain->substr(kExpiryBytes), now);
  if (!parsed) return {ClusterLookup::unreadable, std::nullopt};
  return {ClusterLookup::hit, ClusterCache::Found{std::move(*parsed), left}};
}

}  // namespace

awaitable<ClusterCache::Lookup> ClusterCache::find(const CacheKey& key, unsigned worker) const {
  Lookup lookup;
  if (worker >= workers_.size()) co_return lookup;
  const std::shared_ptr<redis::Client> client = workers_[worker]->client;
  const std::string name = redis_key(key);
  const std::string generation_key = settings_.prefix + "gen";
  const auto get = redis::arguments("MGET", name, generation_key);
  const redis::ReplyResult reply = co_await client->command(get, kArrayReply);
  if (failed(reply) || reply->elements.size() != 2) co_return lookup;
  const redis::Reply& generation = reply->elements[1];
  lookup.generation = generation.type == redis::Reply::Type::string ? generation.text : "0";
  const redis::Reply& value = reply->elements[0];
  if (value.type != redis::Reply::Type::string) {
    lookup.how = ClusterLookup::miss;
    co_return lookup;
  }
  std::tie(lookup.how, lookup.found) = open_value(*sealer_, name, value.text);
  co_return lookup;
}

void ClusterCache::store(const CacheKey& key, const IntrospectionPtr& answer, milliseconds ttl,
                         unsigned worker, bool replace, std::string generation,
                         std::string owner) const {
  if (worker >= workers_.size()) return;
  if (ttl <= milliseconds::zero() || generation.empty()) {
    if (!owner.empty()) unlock(key, worker, std::move(owner));
    return;
  }
  const std::string name = redis_key(key);
  std::string plain(kExpiryBytes, '\0');
  const std::int64_t now = unix_ms(std::chrono::system_clock::now());
  const std::int64_t expires = now + ttl.count();
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    plain[i] = static_cast<char>((expires >> (8 * (kExpiryBytes - 1 - i))) & 0xff);
  }
  plain += answer->claims.to_json().dump();
  std::vector<std::string> arguments = {
      "EVAL", std::string(kStoreScript),
      "",  // the number of keys, set below
      name,   settings_.prefix + "gen",  settings_.prefix + "lock:" + to_hex(key)};
  for (PurgeScope scope : {PurgeScope::sub, PurgeScope::client_id}) {
    const ClaimValue claim = answer->claims.find(scope == PurgeScope::sub ? "sub" : "client_id");
    if (claim.is_string()) arguments.push_back(index_key(scope, claim.string(), 0));
  }
  arguments[2] = std::to_string(arguments.size() - 3);
  arguments.push_back(sealer_->seal(name, plain));
  arguments.push_back(std::to_string(ttl.count()));
  arguments.push_back(replace ? "" : "NX");  // NX: the first replica's answer stays, with its life
  arguments.push_back(std::move(generation));
  arguments.push_back(std::move(owner));
  arguments.push_back(to_hex(key));
  arguments.push_back(std::to_string(expires));
  arguments.push_back(std::to_string(now));
  const std::shared_ptr<Worker>& at = workers_[worker];
  asio::co_spawn(
      at->executor,
      [](std::shared_ptr<redis::Client> client,
         std::vector<std::string> arguments) -> awaitable<void> {
        const std::vector<std::string_view> views(arguments.begin(), arguments.end());
        co_await client->command(views);
      }(at->client, std::move(arguments)),
      asio::detached);
}

awaitable<ClusterCache::Lock> ClusterCache::lock(const CacheKey& key, unsigned worker,
                                                 milliseconds hold) const {
  if (worker >= workers_.size()) co_return Lock{};
  Worker& at = *workers_[worker];
  const std::shared_ptr<redis::Client> client = at.client;
  const std::string name = settings_.prefix + "lock:" + to_hex(key);
  std::string owner =
      replica_id_ + "/" + std::to_string(worker) + "/" + std::to_string(++at.locks_taken);
  const std::string hold_ms = std::to_string(std::max<long long>(hold.count(), 1));
  const auto set = redis::arguments("SET", name, owner, "PX", hold_ms, "NX");
  const redis::ReplyResult reply = co_await client->command(set, kSetReply);
  // Only "another replica holds it" makes this one wait; Redis failing means asking the IdP.
  if (reply && reply->type == redis::Reply::Type::nil) co_return Lock{false, ""};
  if (reply && reply->is_status("OK")) co_return Lock{true, std::move(owner)};
  co_return Lock{};
}

void ClusterCache::unlock(const CacheKey& key, unsigned worker, std::string owner) const {
  if (worker >= workers_.size() || owner.empty()) return;
  const std::shared_ptr<Worker>& at = workers_[worker];
  asio::co_spawn(
      at->executor,
      [](std::shared_ptr<redis::Client> client, std::string name,
         std::string owner) -> awaitable<void> {
        const auto eval = redis::arguments("EVAL", kUnlockScript, "1", name, owner);
        co_await client->command(eval);
      }(at->client, settings_.prefix + "lock:" + to_hex(key), std::move(owner)),
      asio::detached);
}

awaitable<std::optional<ClusterCache::Found>> ClusterCache::wait_for(const CacheKey& key,
                                                                     unsigned worker,
                                                                     milliseconds budget) const {
  if (worker >= workers_.size()) co_return std::nullopt;
  const std::shared_ptr<redis::Client> client = workers_[worker]->client;
  const std::string name = redis_key(key);
  const std::string lock_name = settings_.prefix + "lock:" + to_hex(key);
  const auto get = redis::arguments("MGET", name, lock_name);
  const auto deadline = std::chrono::steady_clock::now() + budget;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() + kPollInterval < deadline) {
    timer.expires_after(kPollInterval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const redis::ReplyResult reply = co_await client->command(get, kArrayReply);
    // Redis failing: no point waiting on it.
    if (failed(reply) || reply->elements.size() != 2) break;
    const redis::Reply& value = reply->elements[0];
    if (value.type == redis::Reply::Type::string) {
      auto [how, found] = open_value(*sealer_, name, value.text);
      if (found) co_return found;
      break;  // there, but not an answer: ask the IdP
    }
    // The lock gone and no answer: its holder failed (or a purge came), so ask the IdP now.
    if (reply->elements[1].type != redis::Reply::Type::string) break;
  }
  co_return std::nullopt;
}

awaitable<RedisPurge> ClusterCache::purge(PurgeScope scope, std::string value,
                                          unsigned worker) const {
  RedisPurge out;
  if (worker >= workers_.size()) {
    out.error = "not started";
    co_return out;
  }
  const std::shared_ptr<redis::Client> client = workers_[worker]->client;
  auto fail = [&out](std::string_view step, const redis::ReplyResult& reply) {
    out.error = std::string(step) + ": " + describe(reply);
  };

  // First, so that a store of an answer fetched before the purge is refused from here on.
  const std::string generation_key = settings_.prefix + "gen";
  const auto incr = redis::arguments("INCR", generation_key);
  const redis::ReplyResult generation = co_await client->command(incr, kIntegerReply);
  if (failed(generation)) {
    fail("INCR", generation);
    co_return out;
  }

  // Deletes `keys`, counting the answers among them.
  auto delete_keys = [&](std::vector<std::string> keys, bool answers) -> awaitable<bool> {
    if (keys.empty()) co_return true;
    keys.insert(keys.begin(), "DEL");
    const std::vector<std::string_view> views(keys.begin(), keys.end());
    const redis::ReplyResult deleted = co_await client->command(views, kIntegerReply);
    if (failed(deleted)) {
      fail("DEL", deleted);
      co_return false;
    }
    if (answers) out.removed += static_cast<std::size_t>(std::max(deleted->integer, 0LL));
    co_return true;
  };

  std::vector<std::string> values;  // what the message names
  if (scope == PurgeScope::key) {
    values.push_back(value);
    std::vector<std::string> answer(1, settings_.prefix + "tok:" + value);
    if (!co_await delete_keys(std::move(answer), true)) co_return out;
  } else if (scope == PurgeScope::sub || scope == PurgeScope::client_id) {
    // Every listed key's index: during a key rotation replicas list answers under different ones.
    for (std::size_t k = 0; k < tag_keys_.size(); ++k) {
      values.push_back(tag_of(tag_keys_[k], scope, value));
      const std::string index = index_key(scope, value, k);
      const std::string last = std::to_string(kPurgeBatch - 1);
      const auto range = redis::arguments("ZRANGE", index, "0", last);
      for (int round = 0; round < kMaxPurgeRounds; ++round) {
        const redis::ReplyResult members = co_await client->command(range, kArrayReply);
        if (failed(members)) {
          fail("ZRANGE", members);
          co_return out;
        }
        if (members->elements.empty()) break;
        std::vector<std::string> answers;
        std::vector<std::string> removal(1, "ZREM");
        removal.push_back(index);
        for (const redis::Reply& member : members->elements) {
          answers.push_back(settings_.prefix + "tok:" + member.text);
          removal.push_back(member.text);
        }
        if (!co_await delete_keys(std::move(answers), true)) co_return out;
        const std::vector<std::string_view> views(removal.begin(), removal.end());
        const redis::ReplyResult removed = co_await client->command(views, kIntegerReply);
        if (failed(removed)) {
          fail("ZREM", removed);
          co_return out;
        }
      }
      std::vector<std::string> emptied(1, index);
      if (!co_await delete_keys(std::move(emptied), false)) co_return out;
    }
  } else {
    const std::string prefix = glob_escaped(settings_.prefix);
    for (const std::string_view kind : kScannedKinds) {
      const std::string pattern = prefix + std::string(kind) + "*";
      const std::string count = std::to_string(kPurgeBatch);
      std::string cursor = "0";
      for (int round = 0; round < kMaxPurgeRounds; ++round) {
        const auto scan = redis::arguments("SCAN", cursor, "MATCH", pattern, "COUNT", count);
        const redis::ReplyResult page = co_await client->command(scan, kArrayReply);
        if (failed(page) || page->elements.size() != 2) {
          fail("SCAN", page);
          co_return out;
        }
        std::vector<std::string> found;
        for (const redis::Reply& name : page->elements[1].elements) found.push_back(name.text);
        if (!co_await delete_keys(std::move(found), kind == kScannedKinds[0])) {
          co_return out;
        }
        cursor = page->elements[0].text;
        if (cursor == "0") break;
      }
    }
  }

  nlohmann::json message = nlohmann::json::object();
  message["from"] = replica_id_;
  message["generation"] = generation->integer;
  message["scope"] = std::string(metrics::name_of(scope));
  message["values"] = values;
  const std::string channel = settings_.prefix + "purge";
  const std::string text = message.dump();
  const auto publish = redis::arguments("PUBLISH", channel, text);
  const redis::ReplyResult published = co_await client->command(publish, kIntegerReply);
  if (failed(published)) {
    fail("PUBLISH", published);
    co_return out;
  }
  out.subscribers = published->integer;
  co_return out;
}

}  // namespace tollgate::oidc
