#include "tollgate/oidc/jwks_client.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "discovery.hpp"
#include "tollgate/oidc/http_exchange.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kFirstRetry{1};
constexpr std::chrono::seconds kMaxRetry{60};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::shared_ptr<JwksClient> JwksClient::create(JwksSettings settings,
                                               std::shared_ptr<ssl::context> tls_context,
                                               std::string label) {
  const bool uri_ok = !settings.jwks_uri.empty() && parse_endpoint(settings.jwks_uri);
  const bool issuer_ok = !settings.issuer.empty() && parse_endpoint(settings.issuer);
  if (!uri_ok && !(settings.jwks_uri.empty() && issuer_ok)) {
    throw std::invalid_argument("openid-connect: no valid jwks_endpoint or issuer");
  }
  return std::shared_ptr<JwksClient>(
      new JwksClient(std::move(settings), std::move(tls_context), std::move(label)));
}

JwksClient::JwksClient(JwksSettings settings, std::shared_ptr<ssl::context> tls_context,
                       std::string label)
    : settings_(std::move(settings)),
      tls_context_(std::move(tls_context)),
      label_(std::move(label)),
      jwks_url_(settings_.jwks_uri) {}

JwksClient::~JwksClient() = default;

void JwksClient::start(const filters::StartContext& context) {
  if (!executors_.empty() || context.worker_executors.empty()) return;  // started already
  executors_ = context.worker_executors;
  views_ = std::vector<WorkerView>(executors_.size());
  refresh_done_ =
      std::make_shared<asio::steady_timer>(executors_.front(), Clock::time_point::max());
  sleep_timer_ = std::make_shared<asio::steady_timer>(executors_.front());
  asio::co_spawn(executors_.front(), run(), asio::detached);
}

void JwksClient::stop() {
  stopping_ = true;
  if (executors_.empty()) return;
  asio::post(executors_.front(), [sleep = sleep_timer_, done = refresh_done_] {
    sleep->cancel();
    done->cancel();
  });
}

void JwksClient::release_worker(unsigned worker) {
  if (worker == 0) pool_.reset();
  if (worker < views_.size()) views_[worker].keys.reset();
}

const jose::KeySet* JwksClient::keys(unsigned worker) const {
  if (worker >= views_.size()) return nullptr;
  WorkerView& view = views_[worker];
  if (view.version != version_.load(std::memory_order_acquire)) {
    const std::lock_guard lock(mutex_);
    view.keys = current_;
    view.version = version_.load(std::memory_order_relaxed);
  }
  return view.keys.get();
}

void JwksClient::publish(jose::KeySet keys) {
  auto snapshot = std::make_shared<const jose::KeySet>(std::move(keys));
  const std::lock_guard lock(mutex_);
  current_ = std::move(snapshot);
  version_.fetch_add(1, std::memory_order_release);
}

bool JwksClient::attempted_recently() const noexcept {
  const auto since = now_ns() - last_attempt_ns_.load(std::memory_order_relaxed);
  return since <
         std::chrono::duration_cast<std::chrono::nanoseconds>(settings_.min_refresh_interval)
             .count();
}

awaitable<void> JwksClient::refresh_for_unknown_kid() {
  // Most tokens with an unknown kid come while the last fetch is recent (a flood of forged kids):
  // they are answered here, without a trip to worker 0. Before the first keys arrive, a request
  // joins the fetch under way (at start) rather than failing at once.
  if (executors_.empty() || stopping_ || (ready() && attempted_recently())) co_return;
  // A named local, not a temporary inside the co_await expression: g++ 12 destroys such
  // temporaries twice.
  auto fetch = [self = shared_from_this()] { return self->fetch_single_flight(/*forced=*/false); };
  co_await asio::co_spawn(executors_.front(), std::move(fetch), asio::use_awaitable);
}

awaitable<void> JwksClient::run() {
  const std::shared_ptr<JwksClient> self = shared_from_this();
  std::chrono::milliseconds backoff = kFirstRetry;
  while (!stopping_) {
    const bool fetched = co_await fetch_single_flight(/*forced=*/true);
    if (stopping_) co_return;
    std::chrono::milliseconds wait = settings_.refresh_interval;
    if (!ready()) {
      spdlog::warn("openid-connect[{}]: no signing keys yet, JWTs get 503; retrying in {}ms",
                   label_, backoff.count());
      wait = backoff;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxRetry);
    } else if (fetched) {
      backoff = kFirstRetry;
    }
    sleep_timer_->expires_after(wait);
    co_await sleep_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

awaitable<bool> JwksClient::fetch_single_flight(bool forced) {
  const std::shared_ptr<JwksClient> self = shared_from_this();
  if (refreshing_) {
    const std::shared_ptr<asio::steady_timer> done = refresh_done_;
    co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return ready();
  }
  if (stopping_ || (!forced && attempted_recently())) co_return false;
  refreshing_ = true;
  bool fetched = false;
  try {
    fetched = co_await fetch();
  } catch (const std::exception& e) {
    spdlog::error("openid-connect[{}]: JWKS fetch failed unexpectedly: {}", label_, e.what());
  }
  refreshing_ = false;
  refresh_done_->cancel();
  co_return fetched;
}

awaitable<bool> JwksClient::discover_jwks_uri() {
  const std::optional<Discovered> found = co_await discover_endpoint(
      executors_.front(), settings_.issuer, "jwks_uri", settings_.timeout, tls_context_, label_);
  if (!found) co_return false;
  jwks_url_ = found->endpoint.url;
  spdlog::info("openid-connect[{}]: jwks_uri {} discovered from {}", label_, jwks_url_,
               found->document_url);
  co_return true;
}

awaitable<bool> JwksClient::fetch() {
  attempts_.fetch_add(1, std::memory_order_relaxed);
  last_attempt_ns_.store(now_ns(), std::memory_order_relaxed);
  if (jwks_url_.empty() && !co_await discover_jwks_uri()) co_return false;
  const Endpoint where = *parse_endpoint(jwks_url_);
  if (!pool_) {
    upstream::PoolOptions options;
    options.max_idle = 1;
    options.connect_timeout = settings_.timeout;
    options.tls_context = tls_context_;
    pool_ = std::make_shared<upstream::HttpClientPool>(executors_.front(), where.origin, options);
  }
  const std::shared_ptr<upstream::HttpClientPool> pool = pool_;
  const auto deadline = Clock::now() + settings_.timeout;
  const HttpRequest request = get_request(where, "application/jwk-set+json, application/json");
  HttpReplyResult reply = co_await exchange(*pool, request, deadline, settings_.limits.max_bytes,
                                            /*repeatable=*/true);
  if (!reply || reply->status != 200) {
    spdlog::warn("openid-connect[{}]: JWKS fetch from {} failed: {}", label_, jwks_url_,
                 reply ? "status " + std::to_string(reply->status) : reply.error().describe());
    co_return false;
  }
  auto parsed = jose::parse_jwks(reply->body, settings_.limits);
  if (!parsed) {
    spdlog::error("openid-connect[{}]: JWKS from {} refused, keeping the keys held: {}", label_,
                  jwks_url_, parsed.error());
    co_return false;
  }
  for (const std::string& skipped : parsed->skipped) {
    spdlog::warn("openid-connect[{}]: JWKS key skipped: {}", label_, skipped);
  }
  spdlog::info("openid-connect[{}]: {} signing keys from {}", label_, parsed->keys.size(),
               jwks_url_);
  publish(std::move(parsed->keys));
  co_return true;
}

}  // namespace tollgate::oidc
