// The seeded schedule of the attribution suite: what each scripted peer does with each request it
// receives, and the bytes that behaviour puts on the wire. Every choice is a pure function of the
// seed and of the request's marker (and how many times that marker arrived), never of arrival
// order or time, so a seed names the same behaviours on every run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scripted_peer.hpp"

namespace tollgate::test::attribution {

// splitmix64: tiny, and the same numbers on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  std::uint32_t below(std::uint32_t bound) { return static_cast<std::uint32_t>(next() % bound); }
  bool percent(std::uint32_t chance) { return below(100) < chance; }

 private:
  std::uint64_t state_;
};

// A stream seed for one purpose: ('U', marker, arrival) for the upstream's k-th receipt of a
// marker.
std::uint64_t derive(std::uint64_t seed, char purpose, std::uint64_t a, std::uint64_t b = 0);

// What a run may do beyond the well-behaved base (every framing and keep-alive combination, split
// writes, interim answers from the upstream, every method with and without a body, pipelining).
// The random draws are the same whatever the menu, so one seed gives comparable schedules.
struct Menu {
  bool idp_interim = false;     // 100/102/103 before the IdP's answer (issue 13 item 1)
  bool idp_cuts = false;        // closes and resets at every point of the IdP's answer
  bool idp_extra = false;       // a fake answer after the IdP's answer (item 1)
  bool upstream_cuts = false;   // closes and resets at every point of the upstream's answer
  bool upstream_extra = false;  // a fake response after the upstream's (item 2)
  bool upstream_close_delimited = false;  // bodies ended by the close (item 5)
  bool upstream_split_chunked = false;    // chunked bodies in several writes
  bool http10 = false;                    // HTTP/1.0 client connections (item 5)
  bool head_protected = false;  // HEAD on the protected routes (the gateway's own 401 to a HEAD)

  static Menu well_behaved() { return {}; }
  static Menu adversarial() { return {true, true, true, true, true, true, true, true, true}; }
  // The well-behaved base plus the one item named (see tests/attribution/README.md); nothing
  // when the name is unknown.
  static std::optional<Menu> only(std::string_view item);
  std::string name() const;
};

enum class Framing { length, chunked, close_delimited };

// Where the peer stops writing, and how: an orderly close (FIN) or a reset (SO_LINGER 0).
enum class Cut {
  none,
  close_before_head,
  reset_before_head,
  close_mid_head,
  reset_mid_head,
  close_mid_body,
  reset_mid_body,
  close_after_answer,
  reset_after_answer,
};

// Bytes after the complete answer: a whole fake response carrying another marker, glued to the
// answer's last write, or late: held back until the clients pause and nothing is in flight (see
// ScriptedPeer::flush_late). After a HEAD, 204 or 304 answer these are the "body" such an answer
// must not have.
//
// Never in a write of its own right after the answer: such bytes may reach the gateway just after
// it checked the connection and reused it, and then they are the next request's answer to any
// HTTP/1.1 client. Glued or late, they are on the gateway's side before any reuse can happen.
enum class Trailing { none, glued, late };

struct ResponsePlan {
  std::vector<int> interim;  // 100, 102, 103 heads before the answer
  int status = 200;
  Framing framing = Framing::length;
  bool keep_alive = true;  // false: "Connection: close" and the peer closes after answering
  Cut cut = Cut::none;
  Trailing trailing = Trailing::none;
  std::uint32_t segments = 1;           // the bytes go out in this many writes (TCP_NODELAY)
  std::uint32_t body_repeats = 1;       // the body is its unit repeated
  std::uint64_t split_seed = 0;         // where the writes split
  std::uint64_t poison = 0;             // the marker the trailing bytes carry
  bool poison_names_neighbour = false;  // a real marker (this one + 1) rather than "poison-<k>"
};

// The IdP's plan for its `arrival`-th receipt of token `token`; the upstream's for marker `marker`.
ResponsePlan idp_plan(std::uint64_t seed, const Menu& menu, std::uint64_t token,
                      std::uint32_t arrival);
ResponsePlan upstream_plan(std::uint64_t seed, const Menu& menu, std::uint64_t marker,
                           std::uint32_t arrival);

std::string describe(const ResponsePlan& plan);

// The marker text trailing bytes carry: "poison-<k>" or the neighbour's number.
std::string poison_marker(const ResponsePlan& plan, std::uint64_t own_marker);

// `fields`: the answer's own header lines (each ending in CRLF). `bodyless`: a HEAD request, or a
// 204/304 status, whose answer has no body. `fake_response`: whole response bytes for trailing.
PeerReply render(const ResponsePlan& plan, std::string_view fields, std::string_view body,
                 bool head_request, std::string_view fake_response);

}  // namespace tollgate::test::attribution
