// parse_request_head(): the step between the byte scan and routing, as the session runs it on a
// header block scan_request_head() found complete.
#include "tollgate/server/request_head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

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

}  // namespace
}  // namespace tollgate::server
