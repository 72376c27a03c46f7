#include "tollgate/http/response_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "field_lines.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {
namespace {

std::vector<std::string> lines_of(const ResponseParser& parser) {
  std::vector<std::string> lines;
  for (const auto& field : parser.fields()) {
    lines.push_back(std::string(field.name_string) + ": " + std::string(field.value));
  }
  return lines;
}

TEST(ResponseParser, KeepsTheStatusLineAndEveryFieldInOrder) {
  std::string head =
      "HTTP/1.1 201 Made\r\nServer: up\r\nX-Custom:  spaced \r\nContent-Length: 3\r\n"
      "x-custom: again\r\n\r\n";
  ResponseParser parser;
  ASSERT_TRUE(parser.parse_head(head));
  head.assign(head.size(), '#');  // the caller's bytes move on; the head stays
  EXPECT_EQ(parser.status(), 201u);
  EXPECT_EQ(parser.version(), 11u);
  EXPECT_EQ(parser.reason(), "Made");
  EXPECT_EQ(lines_of(parser), (std::vector<std::string>{"Server: up", "X-Custom: spaced",
                                                        "Content-Length: 3", "x-custom: again"}));
  EXPECT_EQ(parser.fields()[0].name, http::field::server);
  EXPECT_EQ(parser.fields()[1].name, http::field::unknown);
  EXPECT_EQ(parser[http::field::content_length], "3");
  EXPECT_EQ(parser[http::field::retry_after], "");
  EXPECT_EQ(parser.content_length().value_or(0), 3u);
  EXPECT_FALSE(parser.is_done());
}

TEST(ResponseParser, AnEmptyReasonReadsAsTheUsualOne) {
  ResponseParser parser;
  ASSERT_TRUE(parser.parse_head("HTTP/1.0 404 \r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(parser.version(), 10u);
  EXPECT_EQ(parser.reason(), "Not Found");
  EXPECT_TRUE(parser.is_done());
}

TEST(ResponseParser, AFoldedValueOutlivesTheParse) {
  ResponseParser parser;
  ASSERT_TRUE(
      parser.parse_head("HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nServer: up\r\n"
                        "Content-Length: 0\r\n\r\n"));
  EXPECT_EQ(lines_of(parser),
            (std::vector<std::string>{"X-Folded: one two", "Server: up", "Content-Length: 0"}));
}

TEST(ResponseParser, RefusesAFieldOverBeastsLimitWithoutThrowing) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\nContent-Length: 0\r\n\r\n";
  ResponseParser parser;
  parser.header_limit(1024 * 1024);
  EXPECT_FALSE(parser.parse_head(head));
}

TEST(ResponseParser, RefusesAnIncompleteOrMalformedHead) {
  EXPECT_FALSE(ResponseParser().parse_head("HTTP/1.1 200 OK\r\nServer: up\r\n"));
  EXPECT_FALSE(ResponseParser().parse_head("HTTP/1.1 2x0 OK\r\n\r\n"));
  EXPECT_FALSE(ResponseParser().parse_head(
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"));
}

// A chunked body goes into the room lent, piece by piece; its trailer fields are not fields of the
// head (they would point into bytes the parser does not own).
TEST(ResponseParser, ChunkedBodyFillsTheLentRoomAndTrailersStayOut) {
  ResponseParser parser;
  ASSERT_TRUE(parser.parse_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_TRUE(parser.chunked());
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  char room[4];
  std::string received;
  std::string_view rest = body;
  while (!parser.is_done()) {
    parser.lend_body_room(room, sizeof room);
    error_code ec;
    const std::size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    ASSERT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
    received.append(room, sizeof room - parser.body_room());
    rest.remove_prefix(used);
  }
  EXPECT_EQ(received, "hello world");
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(lines_of(parser), (std::vector<std::string>{"Transfer-Encoding: chunked"}));
}

TEST(ResponseParser, ToHeaderGivesBeastsHeaderWithEveryField) {
  ResponseParser parser;
  ASSERT_TRUE(parser.parse_head(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: abc\r\n\r\n"));
  const http::response_header<> head = parser.to_header();
  EXPECT_EQ(head.result_int(), 101u);
  EXPECT_EQ(head.reason(), "Switching Protocols");
  EXPECT_EQ(head[http::field::upgrade], "websocket");
  EXPECT_EQ(head[http::field::sec_websocket_accept], "abc");
  EXPECT_EQ(std::distance(head.begin(), head.end()), 3);
}

// The relay's walk over a flat head drops what strip_hop_by_hop() drops from a field tree, plus the
// named field, over random heads: hop-by-hop names, Connection tokens naming other fields in any
// case, the protected Host and Content-Length.
TEST(AppendEndToEndFields, AgreesWithStripHopByHopOnRandomHeads) {
  const std::vector<std::string> names = {
      "Server", "X-Custom",     "x-custom",        "Keep-Alive",
      "TE",     "Trailer",      "Upgrade",         "Proxy-Authenticate",
      "Via",    "X-Request-Id", "x-request-id",    "Set-Cookie",
      "Host",   "Date",         "Proxy-Connection"};
  const std::vector<std::string> tokens = {
      "close",          "keep-alive", "x-custom", "SERVER", "Host",
      "Content-Length", "set-cookie", "Upgrade",  "  via ", ""};
  std::mt19937 random(20261207);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::pair<std::string, std::string>> fields;
    const int count = static_cast<int>(random() % 12);
    for (int i = 0; i < count; ++i) {
      if (random() % 4 == 0) {
        std::string value;
        const int n = static_cast<int>(random() % 3);
        for (int t = 0; t <= n; ++t) {
          if (t > 0) value += ",";
          value += tokens[random() % tokens.size()];
        }
        fields.emplace_back("Connection", value);
      } else {
        fields.emplace_back(names[random() % names.size()], "v" + std::to_string(i));
      }
    }
    if (random() % 2 == 0) fields.emplace_back("Content-Length", "0");

    std::string head = "HTTP/1.1 200 OK\r\n";
    http::fields tree;
    for (const auto& [name, value] : fields) {
      head += name + ": " + value + "\r\n";
      tree.insert(name, value);
    }
    head += "\r\n";
    ResponseParser parser;
    ASSERT_TRUE(parser.parse_head(head)) << head;
    std::string flat;
    append_end_to_end_fields(parser.fields(), "X-Request-Id", flat);

    strip_hop_by_hop(tree);
    tree.erase("X-Request-Id");
    std::string expected;
    for (const auto& field : tree) {
      expected += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
    }
    EXPECT_EQ(grouped_field_lines(flat), grouped_field_lines(expected)) << head;
  }
}

}  // namespace
}  // namespace tollgate::http_io
