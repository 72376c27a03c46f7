#include "tollgate/oidc/cluster_cache.hpp"

#include <algorithm>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sealed_value.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {
namespace {

using std::chrono::milliseconds;

constexpr redis::Accepts kValueReply =
    redis::accepts({redis::Reply::Type::string, redis::Reply::Type::nil});
constexpr redis::Accepts kSetReply =
    redis::accepts({redis::Reply::Type::status, redis::Reply::Type::nil});
// How often a replica waiting for another's IdP call looks for its answer.
constexpr milliseconds kPollInterval{15};
constexpr std::size_t kExpiryBytes = 8;

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

}  // namespace

struct ClusterCache::Worker {
  std::shared_ptr<redis::Client> client;
  asio::any_io_executor executor;
  std::atomic<redis::BreakerState> state{redis::BreakerState::closed};  // read by /readyz
};

ClusterCache::ClusterCache(ClusterCacheSettings settings, std::string label)
    : settings_(std::move(settings)),
      label_(std::move(label)),
      replica_id_(random_replica_id()),
      sealer_(std::make_unique<Sealer>(settings_.keys)) {
  if (settings_.redis.ssl) {
    tls_context_ = upstream::make_client_tls_context(settings_.ca_file, settings_.redis.ssl_verify);
  }
}

ClusterCache::~ClusterCache() = default;

void ClusterCache::start(const std::vector<asio::any_io_executor>& executors) {
  if (!workers_.empty()) return;
  for (std::size_t i = 0; i < executors.size(); ++i) {
    auto worker = std::make_shared<Worker>();
    worker->executor = executors[i];
    // Each transition is logged once, by the worker it happened on.
    auto on_transition = [label = label_,
                          where = settings_.redis.host + ":" + std::to_string(settings_.redis.port),
                          i, state = std::weak_ptr<Worker>(worker)](redis::BreakerState now) {
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
}

void ClusterCache::release_worker(unsigned worker) {
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

awaitable<std::optional<ClusterCache::Found>> ClusterCache::find(const CacheKey& key,
                                                                 unsigned worker,
                                                                 ClusterLookup* how) const {
  ClusterLookup ignored;
  if (how == nullptr) how = &ignored;
  *how = ClusterLookup::error;
  if (worker >= workers_.size()) co_return std::nullopt;
  const std::shared_ptr<redis::Client> client = workers_[worker]->client;
  const std::string name = redis_key(key);
  const auto get = redis::arguments("GET", name);
  const redis::ReplyResult reply = co_await client->command(get, kValueReply);
  if (!reply || reply->type == redis::Reply::Type::error) co_return std::nullopt;
  if (reply->type == redis::Reply::Type::nil) {
    *how = ClusterLookup::miss;
    co_return std::nullopt;
  }
  // Not sealed under this key's name with a key this process holds, expired, or not an answer:
  // a miss, never an answer.
  *how = ClusterLookup::unreadable;
  const std::optional<std::string> plain = sealer_->open(name, reply->text);
  if (!plain || plain->size() < kExpiryBytes) co_return std::nullopt;
  std::int64_t expires = 0;
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    expires = (expires << 8) | static_cast<unsigned char>((*plain)[i]);
  }
  const auto now = std::chrono::system_clock::now();
  const milliseconds left{expires - unix_ms(now)};
  if (left <= milliseconds::zero()) {
    *how = ClusterLookup::miss;
    co_return std::nullopt;
  }
  IntrospectionResult parsed =
      parse_introspection_response(200, "", plain->substr(kExpiryBytes), now);
  if (!parsed) co_return std::nullopt;
  *how = ClusterLookup::hit;
  co_return Found{std::move(*parsed), left};
}

void ClusterCache::store(const CacheKey& key, const IntrospectionPtr& answer, milliseconds ttl,
                         unsigned worker, bool replace) const {
  if (ttl <= milliseconds::zero() || worker >= workers_.size()) return;
  const std::string name = redis_key(key);
  std::string plain(kExpiryBytes, '\0');
  const std::int64_t expires = unix_ms(std::chrono::system_clock::now()) + ttl.count();
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    plain[i] = static_cast<char>((expires >> (8 * (kExpiryBytes - 1 - i))) & 0xff);
  }
  plain += answer->claims.to_json().dump();
  std::string value = sealer_->seal(name, plain);
  const std::shared_ptr<Worker>& at = workers_[worker];
  asio::co_spawn(
      at->executor,
      [](std::shared_ptr<redis::Client> client, std::string name, std::string value,
         std::string ttl_ms, bool replace) -> awaitable<void> {
        // NX: the first replica's answer stays, with the life it was given.
        const auto set = replace ? redis::arguments("SET", name, value, "PX", ttl_ms)
                                 : redis::arguments("SET", name, value, "PX", ttl_ms, "NX");
        co_await client->command(set, kSetReply);
      }(at->client, name, std::move(value), std::to_string(ttl.count()), replace),
      asio::detached);
}

awaitable<bool> ClusterCache::lock(const CacheKey& key, unsigned worker, milliseconds hold) const {
  if (worker >= workers_.size()) co_return true;
  const std::shared_ptr<redis::Client> client = workers_[worker]->client;
  const std::string name = settings_.prefix + "lock:" + to_hex(key);
  const std::string hold_ms = std::to_string(std::max<long long>(hold.count(), 1));
  const auto set = redis::arguments("SET", name, replica_id_, "PX", hold_ms, "NX");
  const redis::ReplyResult reply = co_await client->command(set, kSetReply);
  // Only "another replica holds it" makes this one wait; Redis failing means asking the IdP.
  co_return !(reply && reply->type == redis::Reply::Type::nil);
}

awaitable<std::optional<ClusterCache::Found>> ClusterCache::wait_for(const CacheKey& key,
                                                                     unsigned worker,
                                                                     milliseconds budget) const {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() + kPollInterval < deadline) {
    timer.expires_after(kPollInterval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    ClusterLookup how = ClusterLookup::miss;
    if (auto found = co_await find(key, worker, &how)) co_return found;
    if (how == ClusterLookup::error) break;  // Redis failing: no point waiting on it
  }
  co_return std::nullopt;
}

}  // namespace tollgate::oidc
