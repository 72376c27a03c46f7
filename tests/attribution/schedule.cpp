#include "schedule.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace tollgate::test::attribution {
namespace {

constexpr std::array<Cut, 8> kCuts = {Cut::close_before_head,  Cut::reset_before_head,
                                      Cut::close_mid_head,     Cut::reset_mid_head,
                                      Cut::close_mid_body,     Cut::reset_mid_body,
                                      Cut::close_after_answer, Cut::reset_after_answer};

const char* reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    default:
      return "Internal Server Error";
  }
}

std::string interim_head(int status) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  if (status == 103) head += "Link: </style.css>; rel=preload; as=style\r\n";
  return head + "\r\n";
}

// The choices both peers share; `interim_when_well_behaved` says whether interim answers count as
// good behaviour for this peer in the sanity mode.
ResponsePlan draw(Rng& rng, PeerMode mode, bool interim_when_well_behaved) {
  ResponsePlan plan;
  const bool adversarial = mode == PeerMode::adversarial;
  if (rng.percent(adversarial ? 30 : (interim_when_well_behaved ? 20 : 0))) {
    constexpr std::array<int, 3> kInterim = {100, 102, 103};
    for (std::uint32_t n = 1 + rng.below(3); n > 0; --n)
      plan.interim.push_back(kInterim[rng.below(3)]);
  }
  const std::uint32_t framing = rng.below(100);
  plan.framing = framing < 60   ? Framing::length
                 : framing < 85 ? Framing::chunked
                                : Framing::close_delimited;
  plan.keep_alive = rng.percent(80);
  plan.segments = rng.percent(50) ? 1 : 2 + rng.below(3);
  const std::uint32_t size = rng.below(100);
  plan.body_repeats = size < 70   ? 1 + rng.below(4)
                      : size < 95 ? 5 + rng.below(96)
                                  : 1000 + rng.below(2000);
  plan.split_seed = rng.next();
  plan.poison = rng.next() % 1'000'000;
  plan.poison_names_neighbour = rng.percent(30);
  if (adversarial && rng.percent(15)) plan.cut = kCuts[rng.below(kCuts.size())];
  // A close-delimited body has no "after": bytes following it are its body.
  if (adversarial && plan.framing != Framing::close_delimited && rng.percent(25)) {
    plan.trailing = static_cast<Trailing>(1 + rng.below(3));
  }
  return plan;
}

// Split points for `size` bytes into at most `segments` writes, plus `forced` when inside.
std::vector<std::size_t> split_points(const ResponsePlan& plan, std::size_t size,
                                      std::size_t forced) {
  Rng rng(plan.split_seed);
  std::vector<std::size_t> points;
  if (forced > 0 && forced < size) points.push_back(forced);
  for (std::uint32_t i = 1; i < plan.segments && size > 1; ++i)
    points.push_back(1 + rng.below(size - 1));
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

}  // namespace

std::uint64_t Rng::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t derive(std::uint64_t seed, char purpose, std::uint64_t a, std::uint64_t b) {
  Rng rng(seed ^ (static_cast<std::uint64_t>(static_cast<unsigned char>(purpose)) << 56));
  rng = Rng(rng.next() ^ a);
  rng = Rng(rng.next() ^ b);
  return rng.next();
}

ResponsePlan idp_plan(std::uint64_t seed, PeerMode mode, std::uint64_t token,
                      std::uint32_t arrival) {
  Rng rng(derive(seed, 'I', token, arrival));
  // Interim answers before an introspection answer are what issue 13 item 1 is about: not part of
  // the behaviour today's gateway is expected to survive.
  return draw(rng, mode, false);
}

ResponsePlan upstream_plan(std::uint64_t seed, PeerMode mode, std::uint64_t marker,
                           std::uint32_t arrival) {
  Rng rng(derive(seed, 'U', marker, arrival));
  ResponsePlan plan = draw(rng, mode, true);
  // A close-delimited body is relayed with its last chunk twice today (issue 13 item 5), and so,
  // about once in 10,000, is a chunked one that arrives in several pieces.
  if (mode == PeerMode::well_behaved && plan.framing == Framing::close_delimited) {
    plan.framing = Framing::chunked;
  }
  if (mode == PeerMode::well_behaved && plan.framing == Framing::chunked) plan.segments = 1;
  const std::uint32_t status = rng.below(100);
  plan.status = status < 70 ? 200 : status < 75 ? 201 : status < 85 ? 204 : status < 95 ? 304 : 500;
  return plan;
}

std::string poison_marker(const ResponsePlan& plan, std::uint64_t own_marker) {
  if (plan.poison_names_neighbour) return std::to_string(own_marker + 1);
  return "poison-" + std::to_string(plan.poison);
}

std::string describe(const ResponsePlan& plan) {
  std::string out;
  for (int status : plan.interim) out += std::to_string(status) + "+";
  out += std::to_string(plan.status);
  out += plan.framing == Framing::length    ? " content-length"
         : plan.framing == Framing::chunked ? " chunked"
                                            : " close-delimited";
  out += plan.keep_alive ? " keep-alive" : " connection-close";
  if (plan.segments > 1) out += " in " + std::to_string(plan.segments) + " writes";
  out += " body x" + std::to_string(plan.body_repeats);
  constexpr std::array<const char*, 9> kCutNames = {"",
                                                    " | close before head",
                                                    " | reset before head",
                                                    " | close mid-head",
                                                    " | reset mid-head",
                                                    " | close mid-body",
                                                    " | reset mid-body",
                                                    " | close after answer",
                                                    " | reset after answer"};
  out += kCutNames[static_cast<std::size_t>(plan.cut)];
  constexpr std::array<const char*, 4> kTrailingNames = {
      "", " | fake response glued after answer", " | fake response in a later write",
      " | fake response when a request arrives on another connection"};
  out += kTrailingNames[static_cast<std::size_t>(plan.trailing)];
  return out;
}

Reply render(const ResponsePlan& plan, std::string_view fields, std::string_view body,
             bool head_request, std::string_view fake_response) {
  std::string wire;
  for (int status : plan.interim) wire += interim_head(status);
  const std::size_t head_begin = wire.size();

  const bool no_body_status = plan.status == 204 || plan.status == 304;
  wire += "HTTP/1.1 " + std::to_string(plan.status) + " " + reason(plan.status) + "\r\n";
  wire += fields;
  if (!plan.keep_alive) wire += "Connection: close\r\n";
  std::string encoded_body;
  if (!no_body_status) {
    if (plan.framing == Framing::length) {
      wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
      encoded_body = body;
    } else if (plan.framing == Framing::chunked) {
      wire += "Transfer-Encoding: chunked\r\n";
      // Two chunks when the body allows it: the size lines are part of what must be framed.
      const std::size_t first = body.size() / 2;
      for (std::string_view chunk : {body.substr(0, first), body.substr(first)}) {
        if (chunk.empty()) continue;
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
        encoded_body += size_line;
        encoded_body += chunk;
        encoded_body += "\r\n";
      }
      encoded_body += "0\r\n\r\n";
    } else {
      encoded_body = body;
    }
  }
  wire += "\r\n";
  const std::size_t head_end = wire.size();
  if (!head_request) wire += encoded_body;
  const std::size_t body_end = wire.size();
  if (plan.trailing == Trailing::glued) wire += fake_response;

  Reply reply;
  std::size_t end = wire.size();
  switch (plan.cut) {
    case Cut::none:
    case Cut::close_after_answer:
    case Cut::reset_after_answer:
      break;
    case Cut::close_before_head:
    case Cut::reset_before_head:
      end = head_begin;
      break;
    case Cut::close_mid_head:
    case Cut::reset_mid_head:
      end = head_begin + (head_end - head_begin) / 2;
      break;
    case Cut::close_mid_body:
    case Cut::reset_mid_body:
      end = head_end + (body_end - head_end) / 2;
      break;
  }
  wire.resize(end);
  std::size_t from = 0;
  for (std::size_t point : split_points(plan, wire.size(), head_begin)) {
    reply.writes.push_back(wire.substr(from, point - from));
    from = point;
  }
  if (from < wire.size()) reply.writes.push_back(wire.substr(from));
  if (plan.cut == Cut::none && plan.trailing == Trailing::separate_write) {
    reply.writes.emplace_back(fake_response);
  }
  if (plan.cut == Cut::none && plan.trailing == Trailing::late) {
    reply.late = fake_response;
  }

  switch (plan.cut) {
    case Cut::none:
      reply.ending = plan.keep_alive && plan.framing != Framing::close_delimited
                         ? Reply::Ending::keep_open
                         : Reply::Ending::close;
      break;
    case Cut::close_before_head:
    case Cut::close_mid_head:
    case Cut::close_mid_body:
    case Cut::close_after_answer:
      reply.ending = Reply::Ending::close;
      break;
    default:
      reply.ending = Reply::Ending::reset;
      break;
  }
  return reply;
}

}  // namespace tollgate::test::attribution
