// W3C Trace Context, level 1 (https://www.w3.org/TR/trace-context/): the gateway takes part in a
// trace as one span of its own. It continues the trace a client's `traceparent` names, or starts a
// new one, and sends `traceparent` with its own span id as the parent id to every request it makes
// for the client's request (the upstream, the IdP).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/beast/http/fields.hpp>

#include "tollgate/common/id_random.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {

inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kTracestate = "tracestate";

// True for traceparent and tracestate, in any case.
bool is_trace_field(std::string_view name) noexcept;

// The fields of a traceparent value, as lower-case hex, the form they travel in.
struct TraceParent {
  std::uint8_t version = 0;
  std::array<char, 32> trace_id{};
  std::array<char, 16> parent_id{};
  std::uint8_t flags = 0;
};

inline constexpr std::size_t kTraceparentSize = 55;  // "00-" 32 "-" 16 "-" 2
inline constexpr std::uint8_t kSampledFlag = 0x01;

// nullopt unless `value` (optional white space around it aside) is a valid traceparent: version 00
// exactly `00-<32 hex>-<16 hex>-<2 hex>`, lower-case hex only, neither id all zeros; version ff
// is invalid; a higher version is read by its first four fields, which must be followed by the end
// or a '-' (the spec's rule for versions it does not know yet).
std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept;

// The version 00 form of `parent`'s ids and flags (a higher version is written down as 00, the
// highest this implementation knows).
std::array<char, kTraceparentSize> format_traceparent(const TraceParent& parent) noexcept;

// True when `value` is a tracestate list: at most 32 members, each `key=value` by the spec's
// grammar (keys of lower-case letters, digits and `_-*/@`, starting with a letter or digit, up to
// 256 characters; values of printable ASCII but ',' and '=', not ending in a space, up to 256),
// no key twice; empty members and white space around members are allowed.
bool valid_tracestate(std::string_view value) noexcept;

// What the gateway's span sends on: traceparent `00-<trace id>-<its span id>-<flags>` and the
// tracestate it received. Fixed-size storage, no heap.
class TraceContext {
 public:
  // A combined tracestate longer than this is dropped whole.
  static constexpr std::size_t kMaxTracestate = 512;

  // An empty context: nothing is sent (requests made outside any client's request).
  TraceContext() = default;

  // The gateway's span for a request that carried `incoming`. A valid traceparent (exactly one
  // field) is continued: same trace id, the sampled flag kept, the tracestate fields combined with
  // ',' and kept when valid and at most kMaxTracestate bytes. Otherwise a new trace starts, sampled
  // (as OpenTelemetry's default ParentBased(AlwaysOn) sampler decides for a root span), and any
  // tracestate is dropped. The span id (and a new trace id) come from `random`.
  static TraceContext start_span(const boost::beast::http::fields& incoming, IdRandom& random);

  bool empty() const noexcept { return !present_; }
  std::string_view traceparent() const noexcept {
    return present_ ? std::string_view(traceparent_.data(), traceparent_.size())
                    : std::string_view();
  }
  // 32 lower-case hex digits; empty when the context is.
  std::string_view trace_id() const noexcept {
    return present_ ? std::string_view(traceparent_.data() + 3, 32) : std::string_view();
  }
  // Empty when none is sent.
  std::string_view tracestate() const noexcept {
    return std::string_view(tracestate_.data(), tracestate_size_);
  }

  // Replaces every traceparent and tracestate field of `fields` with this context's.
  void apply(boost::beast::http::fields& fields) const;
  // The same for a head that has none: this context's fields, as views into it.
  void add_to(AddedFields& added) const;

 private:
  void keep_tracestate(const boost::beast::http::fields& incoming);

  std::array<char, kTraceparentSize> traceparent_{};
  bool present_ = false;
  std::uint16_t tracestate_size_ = 0;
  std::array<char, kMaxTracestate> tracestate_;
};

}  // namespace tollgate::http_io
