// RFC 7662 token introspection: the identity provider's answer, the ways asking can fail, and the
// client interface the openid-connect filter talks to (the real one speaks HTTP; tests use a fake).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/system/result.hpp>
#include <nlohmann/json.hpp>

#include "tollgate/filters/filter.hpp"
#include "tollgate/http/trace_context.hpp"
#include "tollgate/oidc/claim_store.hpp"

namespace tollgate::oidc {

// The IdP's answer for one token, parsed once and shared read-only by every request presenting the
// same token while it is cached. It is the answer, not a verdict: each route's policy is evaluated
// against it on every request.
//
// A cached token costs one allocation: this header (reference count, `active`, the root of the
// claims) followed by the claims in their compact encoding (claim_store.hpp), nothing else. The
// body's bytes and the parsed JSON tree are not kept. Every inactive answer is one shared instance
// with no other claims (RFC 7662 §2.2: nothing else in an inactive answer may be relied on), so a
// flood of unknown tokens fills the cache with small entries.
class Introspection {
 public:
  // An answer holding `claims` (a JSON object, "active" included), encoded with `dictionary`,
  // which must outlive it.
  static boost::intrusive_ptr<const Introspection> create(
      bool active, const nlohmann::json& claims,
      ClaimDictionary& dictionary = ClaimDictionary::shared());
  // The same from claims already encoded with `dictionary` (claim_store.hpp).
  static boost::intrusive_ptr<const Introspection> from_encoded(
      bool active, std::span<const std::uint8_t> encoded, ClaimDictionary& dictionary);

  Introspection(const Introspection&) = delete;
  Introspection& operator=(const Introspection&) = delete;

 private:
  // First, so it packs with `active` ahead of the 8-byte aligned view.
  mutable std::atomic<std::uint32_t> references_{0};

 public:
  const bool active;
  const ClaimValue claims;  // the JSON object as sent, "active" included

  // The memory its one allocation takes.
  std::size_t footprint() const noexcept { return sizeof(Introspection) + claims.encoded_size(); }

 private:
  Introspection(bool is_active, ClaimValue root) noexcept : active(is_active), claims(root) {}
  ~Introspection() = default;

  friend void intrusive_ptr_add_ref(const Introspection* answer) noexcept {
    answer->references_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const Introspection* answer) noexcept {
    if (answer->references_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(answer);
  }
  static void destroy(const Introspection* answer) noexcept;
};
using IntrospectionPtr = boost::intrusive_ptr<const Introspection>;

// Why no answer could be had. Failures are never cached and always end in 503 for the client:
// an IdP outage must not look like every token was revoked, and must never let a request through.
enum class IdpFailureKind {
  not_ready,     // the introspection endpoint is not discovered yet
  connect,       // resolve, connect or TLS handshake failed
  io,            // sending the request or reading the answer failed
  timeout,       // the call took longer than `timeout`
  http_status,   // any status but 200 (401 invalid_client, 429, 5xx, ...)
  bad_response,  // not a JSON object with a boolean "active"
  cancelled,     // the waiting request went away before the answer came
  internal,      // an unexpected error in tollgate itself
};
std::string_view to_string(IdpFailureKind kind) noexcept;

struct IdpFailure {
  IdpFailure() = default;
  explicit IdpFailure(IdpFailureKind failure_kind, unsigned status = 0,
                      std::optional<std::chrono::seconds> retry = std::nullopt)
      : kind(failure_kind), http_status(status), retry_after(retry) {}

  IdpFailureKind kind = IdpFailureKind::internal;
  unsigned http_status = 0;                         // set for http_status
  std::optional<std::chrono::seconds> retry_after;  // the IdP's Retry-After, when it sent one

  // "timeout", "http_status 429": what logs show.
  std::string describe() const;
};

using IntrospectionResult = boost::system::result<IntrospectionPtr, IdpFailure>;

// Lets boost::system::result<T, IdpFailure>::value() throw; expected paths test has_value()
// instead.
[[noreturn]] void throw_exception_from_error(const IdpFailure& failure,
                                             const boost::source_location& location);

// The one instance every inactive answer is.
IntrospectionPtr inactive_answer();

// Turns the IdP's HTTP answer into an Introspection or a failure. Only a 200 whose body is a JSON
// object with a boolean "active" is an answer; everything else is an IdP failure (never
// "inactive"). `retry_after` is the raw Retry-After header value (empty when absent); `now`
// resolves HTTP-dates.
IntrospectionResult parse_introspection_response(unsigned status, std::string_view retry_after,
                                                 std::string body,
                                                 std::chrono::system_clock::time_point now);

// Retry-After as delta-seconds or an HTTP-date; nullopt when absent or unparsable. Capped at one
// hour so a confused IdP cannot tell clients to go away for a day.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

class IntrospectionClient {
 public:
  virtual ~IntrospectionClient() = default;

  // Called from Filter::start(): set up per-worker connection pools, begin discovery.
  virtual void start(const filters::StartContext& context) {}
  // Called from Filter::stop(): end background work.
  virtual void stop() {}
  // False until the introspection endpoint is known (configured, or discovered from the issuer).
  virtual bool ready() const = 0;
  // Called on worker `worker`'s thread when no request there can call introspect() any more: the
  // worker's connection pool goes now, on the thread that owns its sockets.
  virtual void release_worker(unsigned worker) {}
  // Asks the IdP about `token`. `worker` selects the caller's per-worker connection pool; the call
  // must run on that worker's executor. The request carries `trace` (traceparent, tracestate)
  // unless it is empty.
  virtual boost::asio::awaitable<IntrospectionResult> introspect(
      std::string token, unsigned worker, http_io::TraceContext trace) const = 0;
};

}  // namespace tollgate::oidc
