// parse_request_head(): the step between the byte scan and routing, as the session runs it on a
// header block scan_request_head() found complete.
#include "tollgate/server/request_head.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::server {
namespace {

namespace http = boost::beast::http;
using Parser = http::request_parser<http::buffer_body>;

errc parse(std::string_view head, Parser& parser, std::uint32_t header_limit = 16 * 1024,
           std::uint64_t body_limit = 1024 * 1024) {
  parser.header_limit(header_limit);
  parser.body_limit(body_limit);
  const HeadScan scan = scan_request_head(head);
  EXPECT_EQ(scan.state, HeadState::complete) << head;
  EXPECT_EQ(scan.size, head.size()) << head;
  return parse_request_head(parser, head);
}

TEST(ParseRequestHead, AcceptsAHeadAndReadsNoBody) {
  Parser parser;
  EXPECT_EQ(parse("POST /orders?x=1 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\n\r\n",
                  parser),
            errc::ok);
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_FALSE(parser.is_done());  // the body is the forwarder's to read
  EXPECT_EQ(parser.get().method(), http::verb::post);
  EXPECT_EQ(parser.get().target(), "/orders?x=1");
  EXPECT_EQ(parser.get()[http::field::host], "api.example.com");
}

TEST(ParseRequestHead, RefusesAFramingConflict) {
  Parser parser;
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  parser),
            errc::bad_request);
}

TEST(ParseRequestHead, RefusesWhatTheParserRefuses) {
  Parser parser;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", parser), errc::bad_request);
}

// Routes match methods case-sensitively, and upstreams often upper-case what they get: "get" would
// skip a route bound to GET and still be served as one. nginx's rule: A-Z, '-' and '_' only.
TEST(ParseRequestHead, RefusesAMethodThatIsNotUpperCase) {
  for (const char* method : {"get", "Get", "gET", "post", "PuRgE", "GET1", "G.T", "M~SEARCH"}) {
    Parser parser;
    EXPECT_EQ(parse(std::string(method) + " /admin HTTP/1.1\r\nHost: a\r\n\r\n", parser),
              errc::bad_request)
        << method;
  }
  for (const char* method : {"GET", "POST", "PURGE", "M-SEARCH", "BASELINE_CONTROL", "X"}) {
    Parser parser;
    EXPECT_EQ(parse(std::string(method) + " /admin HTTP/1.1\r\nHost: a\r\n\r\n", parser), errc::ok)
        << method;
  }
}

TEST(ParseRequestHead, MapsTheParserLimits) {
  const std::string head =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(200, 'b') + "\r\n\r\n";
  Parser small_head;
  EXPECT_EQ(parse(head, small_head, 100), errc::header_too_large);

  Parser small_body;
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", small_body,
                  16 * 1024, 1000),
            errc::body_too_large);

  // Beast stores no field value over 64 KiB and throws instead; that is a head too large too.
  const std::string huge =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Huge: " + std::string(70 * 1024, 'h') + "\r\n\r\n";
  Parser huge_field;
  EXPECT_EQ(parse(huge, huge_field, 128 * 1024), errc::header_too_large);
}

// The rules of scan_request_head() written the plain way, one byte and every rule at a time: the
// scan must agree with it on every input.
HeadScan reference_scan(std::string_view data) {
  if (!data.empty() && (data[0] == ' ' || data[0] == '\t')) return {HeadState::invalid, 0};
  bool line_start = true;
  bool first_line = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 == data.size()) return {HeadState::incomplete, 0};
      if (data[i + 1] != '\n') return {HeadState::invalid, 0};
      if (line_start && !first_line) return {HeadState::complete, i + 2};
      ++i;
      line_start = true;
      first_line = false;
      continue;
    }
    if (c == '\n') return {HeadState::invalid, 0};
    if ((c < 0x20 && c != '\t') || c == 0x7f) return {HeadState::invalid, 0};
    if (line_start && !first_line && (c == ' ' || c == '\t')) return {HeadState::invalid, 0};
    line_start = false;
  }
  return {HeadState::incomplete, 0};
}

void expect_same_scan(const std::string& data) {
  const HeadScan fast = scan_request_head(data);
  const HeadScan plain = reference_scan(data);
  ASSERT_EQ(fast.state, plain.state) << testing::PrintToString(data);
  ASSERT_EQ(fast.size, plain.size) << testing::PrintToString(data);
}

TEST(ScanRequestHead, AgreesWithThePlainRulesOnEveryShortInput) {
  // Every string of up to 6 bytes over the bytes the rules tell apart.
  const std::string alphabet = std::string("a :\t\r\n\x01\x7f", 8);
  std::vector<std::string> level{""};
  for (int length = 1; length <= 6; ++length) {
    std::vector<std::string> next;
    next.reserve(level.size() * alphabet.size());
    for (const std::string& prefix : level) {
      for (char c : alphabet) {
        next.push_back(prefix + c);
        expect_same_scan(next.back());
      }
    }
    level = std::move(next);
  }
}

TEST(ScanRequestHead, AgreesWithThePlainRulesOnMutatedHeads) {
  const std::string head =
      "GET /orders?id=7 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer "
      "abc.def-ghi_jkl\r\nX-Note: a\tb \xc3\xa9\r\n\r\nbody";
  std::mt19937 random(20261126);
  const std::string replacements{' ', '\t', '\r', '\n', '\0', '\x7f', '\x80', 'a'};
  for (int round = 0; round < 20000; ++round) {
    std::string mutated = head;
    const int changes = 1 + static_cast<int>(random() % 3);
    for (int k = 0; k < changes; ++k) {
      mutated[random() % mutated.size()] = replacements[random() % replacements.size()];
    }
    for (std::size_t cut : {mutated.size(), mutated.size() / 2, std::size_t{1}}) {
      expect_same_scan(mutated.substr(0, cut));
    }
  }
  expect_same_scan(head);
  EXPECT_EQ(scan_request_head(head).state, HeadState::complete);
}

}  // namespace
}  // namespace tollgate::server
