#include "tollgate/http/websocket.hpp"

#include <gtest/gtest.h>

namespace tollgate::http_io {
namespace {

namespace http = boost::beast::http;

http::request_header<> handshake() {
  http::request_header<> head;
  head.method(http::verb::get);
  head.target("/chat");
  head.version(11);
  head.set(http::field::host, "server.example.com");
  head.set(http::field::upgrade, "websocket");
  head.set(http::field::connection, "keep-alive, Upgrade");
  head.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  head.set(http::field::sec_websocket_version, "13");
  return head;
}

TEST(WebSocketHandshake, TheRfcExampleIsValid) {
  EXPECT_EQ(check_handshake(handshake(), false), Handshake::valid);
  // RFC 6455 §1.3: the key above gives this Accept.
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, OnlyUpgradeWebsocketMakesAHandshake) {
  auto head = handshake();
  head.erase(http::field::upgrade);
  EXPECT_EQ(check_handshake(head, false), Handshake::none);
  head.set(http::field::upgrade, "h2c");
  EXPECT_EQ(check_handshake(head, false), Handshake::none);
  head.set(http::field::upgrade, "foo/2, WebSocket");
  EXPECT_EQ(check_handshake(head, false), Handshake::valid);
}

TEST(WebSocketHandshake, EveryRuleOfTheRequest) {
  auto post = handshake();
  post.method(http::verb::post);
  EXPECT_EQ(check_handshake(post, false), Handshake::malformed);
  auto http10 = handshake();
  http10.version(10);
  EXPECT_EQ(check_handshake(http10, false), Handshake::malformed);
  EXPECT_EQ(check_handshake(handshake(), true), Handshake::malformed);  // a body
  auto no_connection = handshake();
  no_connection.set(http::field::connection, "keep-alive");
  EXPECT_EQ(check_handshake(no_connection, false), Handshake::malformed);
  auto no_key = handshake();
  no_key.erase(http::field::sec_websocket_key);
  EXPECT_EQ(check_handshake(no_key, false), Handshake::malformed);
  auto short_key = handshake();
  short_key.set(http::field::sec_websocket_key, "c2hvcnQ=");
  EXPECT_EQ(check_handshake(short_key, false), Handshake::malformed);
  auto two_keys = handshake();
  two_keys.insert(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(check_handshake(two_keys, false), Handshake::malformed);
  auto no_version = handshake();
  no_version.erase(http::field::sec_websocket_version);
  EXPECT_EQ(check_handshake(no_version, false), Handshake::malformed);
  auto version_8 = handshake();
  version_8.set(http::field::sec_websocket_version, "8");
  EXPECT_EQ(check_handshake(version_8, false), Handshake::wrong_version);
}

TEST(WebSocketHandshake, The101MustSwitchToWebsocketWithTheRightAccept) {
  http::response_header<> head;
  head.result(http::status::switching_protocols);
  head.set(http::field::upgrade, "websocket");
  head.set(http::field::connection, "Upgrade");
  head.set(http::field::sec_websocket_accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(switches_to_websocket(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  EXPECT_FALSE(switches_to_websocket(head, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  auto other = head;
  other.set(http::field::upgrade, "h2c");
  EXPECT_FALSE(switches_to_websocket(other, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  auto no_connection = head;
  no_connection.erase(http::field::connection);
  EXPECT_FALSE(switches_to_websocket(no_connection, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

}  // namespace
}  // namespace tollgate::http_io
