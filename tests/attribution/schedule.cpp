#include "schedule.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <utility>

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

// One peer's answer to one request. Every value is drawn whatever the menu allows, so that the
// menu changes what a seed does and not what it draws.
ResponsePlan draw(Rng& rng, bool interim, bool cuts, bool extra) {
  ResponsePlan plan;
  const bool with_interim = rng.percent(interim ? 30 : 0);
  const std::uint32_t interim_count = 1 + rng.below(3);
  constexpr std::array<int, 3> kInterim = {100, 102, 103};
  for (std::uint32_t n = 0; n < 3; ++n) {
    const int status = kInterim[rng.below(3)];
    if (with_interim && n < interim_count) plan.interim.push_back(status);
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
  const bool cut = rng.percent(15);
  const Cut where = kCuts[rng.below(kCuts.size())];
  if (cuts && cut) plan.cut = where;
  const bool trailing = rng.percent(25);
  const auto how = static_cast<Trailing>(1 + rng.below(2));
  // A close-delimited body has no "after": bytes following it are its body.
  if (extra && trailing && plan.framing != Framing::close_delimited) plan.trailing = how;
  return plan;
}

// Split points for `size` bytes into at most `segments` writes, plus the `forced` ones inside.
std::vector<std::size_t> split_points(const ResponsePlan& plan, std::size_t size,
                                      std::initializer_list<std::size_t> forced) {
  Rng rng(plan.split_seed);
  std::vector<std::size_t> points;
  for (std::size_t point : forced) {
    if (point > 0 && point < size) points.push_back(point);
  }
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

std::optional<Menu> Menu::only(std::string_view item) {
  Menu menu;
  if (item == "idp-interim") {
    menu.idp_interim = true;
  } else if (item == "idp-cuts") {
    menu.idp_cuts = true;
  } else if (item == "idp-extra") {
    menu.idp_extra = true;
  } else if (item == "upstream-cuts") {
    menu.upstream_cuts = true;
  } else if (item == "upstream-extra") {
    menu.upstream_extra = true;
  } else if (item == "upstream-close-delimited") {
    menu.upstream_close_delimited = true;
  } else if (item == "upstream-split-chunked") {
    menu.upstream_split_chunked = true;
  } else if (item == "http10") {
    menu.http10 = true;
  } else if (item == "head-protected") {
    menu.head_protected = true;
  } else {
    return std::nullopt;
  }
  return menu;
}

std::string Menu::name() const {
  const std::array<std::pair<bool, const char*>, 9> items = {{
      {idp_interim, "idp-interim"},
      {idp_cuts, "idp-cuts"},
      {idp_extra, "idp-extra"},
      {upstream_cuts, "upstream-cuts"},
      {upstream_extra, "upstream-extra"},
      {upstream_close_delimited, "upstream-close-delimited"},
      {upstream_split_chunked, "upstream-split-chunked"},
      {http10, "http10"},
      {head_protected, "head-protected"},
  }};
  if (std::all_of(items.begin(), items.end(), [](const auto& item) { return item.first; })) {
    return "adversarial";
  }
  std::string out;
  for (const auto& [on, name] : items) {
    if (on) out += (out.empty() ? "" : "+") + std::string(name);
  }
  return out.empty() ? "well-behaved" : out;
}

ResponsePlan idp_plan(std::uint64_t seed, const Menu& menu, std::uint64_t token,
                      std::uint32_t arrival) {
  Rng rng(derive(seed, 'I', token, arrival));
  return draw(rng, menu.idp_interim, menu.idp_cuts, menu.idp_extra);
}

ResponsePlan upstream_plan(std::uint64_t seed, const Menu& menu, std::uint64_t marker,
                           std::uint32_t arrival) {
  Rng rng(derive(seed, 'U', marker, arrival));
  // Interim answers from an upstream are handled today: part of the well-behaved base.
  ResponsePlan plan = draw(rng, true, menu.upstream_cuts, menu.upstream_extra);
  if (!menu.upstream_close_delimited && plan.framing == Framing::close_delimited) {
    plan.framing = Framing::chunked;
  }
  if (!menu.upstream_split_chunked && plan.framing == Framing::chunked) plan.segments = 1;
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
  constexpr std::array<const char*, 3> kTrailingNames = {
      "", " | fake response glued after answer", " | fake response late (at the clients' pause)"};
  out += kTrailingNames[static_cast<std::size_t>(plan.trailing)];
  return out;
}

PeerReply render(const ResponsePlan& plan, std::string_view fields, std::string_view body,
                 bool head_request, std::string_view fake_response) {
  std::string wire;
  for (int status : plan.interim) wire += interim_head(status);
  const std::size_t head_begin = wire.size();

  const bool no_body_status = plan.status == 204 || plan.status == 304;
  wire += "HTTP/1.1 " + std::to_string(plan.status) + " " + reason(plan.status) + "\r\n";
  wire += fields;
  if (!plan.keep_alive) wire += "Connection: close\r\n";
  std::string encoded_body;
  std::size_t first_size_line_end = 0;  // in encoded_body
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
        if (first_size_line_end == 0) first_size_line_end = encoded_body.size();
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

  PeerReply reply;
  const std::size_t answer_end = body_end;
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
  // Splits fall inside the answer: glued bytes share the answer's last write.
  // A chunk-size line alone in its write is what a streaming server sends: split there too.
  const std::size_t size_line_end =
      plan.segments > 1 && first_size_line_end > 0 ? head_end + first_size_line_end : 0;
  for (std::size_t point :
       split_points(plan, std::min(wire.size(), answer_end), {head_begin, size_line_end})) {
    reply.pieces.push_back(wire.substr(from, point - from));
    from = point;
  }
  if (from < wire.size()) reply.pieces.push_back(wire.substr(from));
  if (plan.cut == Cut::none && plan.trailing == Trailing::late) {
    reply.late = fake_response;
  }

  switch (plan.cut) {
    case Cut::none:
      reply.ending = plan.keep_alive && plan.framing != Framing::close_delimited
                         ? PeerReply::Ending::keep_open
                         : PeerReply::Ending::close;
      break;
    case Cut::close_before_head:
    case Cut::close_mid_head:
    case Cut::close_mid_body:
    case Cut::close_after_answer:
      reply.ending = PeerReply::Ending::close;
      break;
    default:
      reply.ending = PeerReply::Ending::reset;
      break;
  }
  return reply;
}

}  // namespace tollgate::test::attribution
