// The request head's path through tollgate (server/request_head.cpp and what the session does with
// the result): the raw byte scan before any parsing, Beast's parser with the session's limits, the
// framing checks, target and Host normalisation, the hop-by-hop strip, and the head as it is
// forwarded. The input is the bytes a client sends on a fresh connection.
//
// Beyond "no crash", it checks what keeps requests from being smuggled: the scan agrees with itself
// on every prefix (the session rescans as bytes arrive), an accepted head has unambiguous framing
// and no control character in any field, and the head tollgate forwards is read back by the same
// parser as exactly the request tollgate routed.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>

#include "fuzz_check.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/routing/path.hpp"
#include "tollgate/server/request_head.hpp"

namespace {

namespace http = boost::beast::http;
using tollgate::errc;
using tollgate::server::HeadState;
using tollgate::server::scan_request_head;
using Parser = http::request_parser<http::buffer_body>;
using Head = http::request_header<>;

const tollgate::config::Limits kLimits;  // the defaults: 16 KiB of head, 10 MiB of body

// RFC 9112 §2.2, as the session does between requests: empty lines before a request line go.
std::string_view skip_empty_lines(std::string_view data) {
  while (data.starts_with("\r\n")) data.remove_prefix(2);
  return data;
}

void check_scan_is_consistent(std::string_view data) {
  const auto scan = scan_request_head(data);
  if (scan.state == HeadState::invalid) return;
  if (scan.state == HeadState::incomplete) {
    // Nothing in there is refused yet, so no shorter read of it could have been refused either.
    const auto half = scan_request_head(data.substr(0, data.size() / 2));
    FUZZ_CHECK(half.state == HeadState::incomplete, data);
    return;
  }
  FUZZ_CHECK(scan.size >= 4 && scan.size <= data.size(), data);
  const std::string_view head = data.substr(0, scan.size);
  FUZZ_CHECK(head.ends_with("\r\n\r\n"), head);
  // The head alone scans the same; any shorter read of it is still waiting for more.
  const auto alone = scan_request_head(head);
  FUZZ_CHECK(alone.state == HeadState::complete && alone.size == scan.size, head);
  FUZZ_CHECK(scan_request_head(head.substr(0, head.size() - 1)).state == HeadState::incomplete,
             head);
  FUZZ_CHECK(scan_request_head(head.substr(0, head.size() / 2)).state == HeadState::incomplete,
             head);
  for (const char ch : head) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\r' || c == '\n', head);
    FUZZ_CHECK(c != 0x7f, head);
  }
}

// As the session parses a head: with the configured limits, unless `header_limit` says otherwise.
errc parse(std::string_view head, Parser& parser,
           std::uint64_t header_limit = kLimits.max_header_bytes + 2) {
  parser.header_limit(static_cast<std::uint32_t>(header_limit));
  parser.body_limit(kLimits.max_body_bytes);
  return tollgate::server::parse_request_head(parser, head);
}

// What validate_request_head() promises about a head it accepts.
void check_accepted_head(const Head& head, std::string_view raw) {
  FUZZ_CHECK(head.version() == 10 || head.version() == 11, raw);
  FUZZ_CHECK(head.count(http::field::host) == 1 && !head[http::field::host].empty(), raw);
  FUZZ_CHECK(head.count(http::field::content_length) <= 1, raw);
  FUZZ_CHECK(head.count(http::field::transfer_encoding) <= 1, raw);
  if (head.count(http::field::transfer_encoding) == 1) {
    FUZZ_CHECK(head.count(http::field::content_length) == 0 && head.version() == 11, raw);
  }
  for (const auto& field : head) {
    FUZZ_CHECK(!field.name_string().empty(), raw);
    FUZZ_CHECK(!tollgate::http_io::cgi_equivalent(field.name_string(), "Content_Length") ||
                   field.name() == http::field::content_length,
               raw);
    FUZZ_CHECK(!tollgate::http_io::cgi_equivalent(field.name_string(), "Transfer_Encoding") ||
                   field.name() == http::field::transfer_encoding,
               raw);
    for (const char ch : field.value()) {
      const auto c = static_cast<unsigned char>(ch);
      FUZZ_CHECK((c >= 0x20 || c == '\t') && c != 0x7f, raw);
    }
  }
}

std::vector<std::string> tokens_named_in_connection(const Head& head) {
  std::vector<std::string> tokens;
  const auto [first, last] = head.equal_range(http::field::connection);
  for (auto it = first; it != last; ++it) {
    std::string_view value = it->value();
    while (!value.empty()) {
      const std::size_t comma = value.find(',');
      std::string_view token = value.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      tokens.emplace_back(token);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return tokens;
}

// Nothing hop-by-hop is forwarded, nor anything the client named in Connection, except the
// headers that frame and address the message.
void check_hop_by_hop_strip(Head& head) {
  const std::vector<std::string> named = tokens_named_in_connection(head);
  tollgate::http_io::strip_hop_by_hop(head);
  for (const http::field f :
       {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
        http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade,
        http::field::proxy_authenticate, http::field::proxy_authorization}) {
    FUZZ_CHECK(head.count(f) == 0, http::to_string(f));
  }
  for (const auto& field : head) {
    if (field.name() == http::field::host || field.name() == http::field::content_length) continue;
    for (const std::string& token : named) {
      FUZZ_CHECK(!tollgate::http_io::iequals(field.name_string(), token), field.name_string());
    }
  }
}

std::vector<std::pair<std::string, std::string>> fields_of(const Head& head) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : head) out.emplace_back(field.name_string(), field.value());
  return out;
}

// The head as the forwarder sends it (normalised target, hop-by-hop fields gone, chunked framing
// set again) is read back by the same scan and parser as exactly that head.
void check_forwarded_head(Head& head, bool chunked,
                          const tollgate::routing::NormalisedTarget& target) {
  std::string forwarded_target = target.path;
  if (!target.query.empty()) forwarded_target += '?' + target.query;
  head.target(forwarded_target);
  head.erase(http::field::expect);
  head.set("X-Request-Id", "fuzz-1");
  if (chunked) head.set(http::field::transfer_encoding, "chunked");

  // The forwarder writes heads by hand (append_head); Beast's serializer, which it keeps for
  // bodies that need framing, must write the same bytes.
  std::string wire;
  tollgate::http_io::append_head(head, wire);
  std::ostringstream beast_wire;
  beast_wire << head;
  FUZZ_CHECK(beast_wire.str() == wire, wire);
  const auto scan = scan_request_head(wire);
  FUZZ_CHECK(scan.state == HeadState::complete && scan.size == wire.size(), wire);
  // Not within the client-side head limit: normalising escapes every byte a path may not carry
  // raw, so a forwarded head can be up to three times the size of the one received.
  Parser reparsed;
  FUZZ_CHECK(parse(wire, reparsed, wire.size() + 2) == errc::ok, wire);
  const auto& again = reparsed.get();
  FUZZ_CHECK(again.method_string() == head.method_string(), wire);
  FUZZ_CHECK(again.target() == head.target(), wire);
  FUZZ_CHECK(again.version() == head.version(), wire);
  FUZZ_CHECK(fields_of(again) == fields_of(head), wire);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = skip_empty_lines(tollgate::fuzz::as_text(data, size));
  check_scan_is_consistent(input);

  const auto scan = scan_request_head(input);
  if (scan.state != HeadState::complete || scan.size > kLimits.max_header_bytes) return 0;
  const std::string_view raw = input.substr(0, scan.size);

  Parser parser;
  const errc parsed = parse(raw, parser);
  FUZZ_CHECK(parsed == errc::ok || parsed == errc::bad_request ||
                 parsed == errc::header_too_large || parsed == errc::body_too_large,
             raw);
  if (parsed != errc::ok) return 0;
  auto& head = parser.get();
  check_accepted_head(head, raw);

  std::string authority;
  const auto target = tollgate::routing::normalise_target(head.target(), &authority);
  if (!target) return 0;
  const std::string host = tollgate::routing::normalise_host(
      authority.empty() ? std::string_view(head[http::field::host]) : std::string_view(authority));
  if (host.empty()) return 0;

  const bool chunked = parser.chunked();
  check_hop_by_hop_strip(head);
  check_forwarded_head(head, chunked, *target);
  return 0;
}
