// The echo server is the upstream every gateway test stands on: these tests hold it to its --help.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "services.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr long kBoundedRssKib = 64 * 1024;  // the server's own footprint is ~10 MiB
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The /bytes pattern as documented: byte i is 'a' + i % 26.
std::string expected_pattern(std::uint64_t offset, std::size_t length) {
  std::string out(length, '\0');
  for (std::size_t i = 0; i < length; ++i) out[i] = static_cast<char>('a' + (offset + i) % 26);
  return out;
}

json body_json(const Response& response) {
  EXPECT_EQ(response[http::field::content_type], "application/json");
  return json::parse(response.body());
}

// A raw connection for transfers too large for the string-bodied test client.
struct RawConnection {
  asio::io_context io;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;
  explicit RawConnection(std::uint16_t port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    buffer.reserve(1 << 20);  // Beast reads at most the spare capacity: keep reads large
  }
};

// Everything the peer sends until it closes; fails the test if it does not close in time.
std::string read_until_closed(tcp::socket& socket) {
  std::string data;
  char piece[4096];
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(piece), ec);
    data.append(piece, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return data;
    if (ec) {
      ADD_FAILURE() << "connection not closed: " << ec.message();
      return data;
    }
  }
}

class EchoServerTest : public ::testing::Test {
 protected:
  EchoServer server_ = start_echo_server("echo-test");
};

TEST_F(EchoServerTest, PrintsOnlyTheReadyLine) {
  http_get(server_.port, "/ok");
  EXPECT_EQ(server_.process->output(),
            "echo-server listening on 127.0.0.1:" + std::to_string(server_.port) + "\n");
}

TEST_F(EchoServerTest, EchoesMethodPathQueryAndHeaders) {
  HttpConnection connection(server_.port);
  Request request{http::verb::get, "/some/../path;p=1?x=1&y=%2e", 11};
  request.set("X-Test", "a value");
  request.insert("X-Multi", "one");
  request.insert("x-multi", "two");
  const Response response = connection.send(std::move(request));
  ASSERT_EQ(response.result_int(), 200);
  const json echo = body_json(response);
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["path"], "/some/../path;p=1");  // exactly as received, nothing normalised
  EXPECT_EQ(echo["query"], "x=1&y=%2e");
  EXPECT_EQ(echo["headers"]["x-test"], "a value");
  EXPECT_EQ(echo["headers"]["x-multi"], json::array({"one", "two"}));
  EXPECT_EQ(echo["headers"]["host"], "127.0.0.1:" + std::to_string(server_.port));
  EXPECT_EQ(echo["body_size"], 0);
  EXPECT_EQ(echo["body_sha256"], kEmptySha256);
  EXPECT_EQ(echo["server"], "echo-test");
}

TEST_F(EchoServerTest, EmptyQueryWhenTargetHasNone) {
  const json echo = body_json(http_get(server_.port, "/a"));
  EXPECT_EQ(echo["path"], "/a");
  EXPECT_EQ(echo["query"], "");
}

TEST_F(EchoServerTest, CountsAndHashesRequestBody) {
  // Several times the server's 64 KiB read chunk, so the hash spans many pieces.
  std::string payload;
  for (int i = 0; i < 3 * 1024 * 1024 / 7; ++i) payload += "payload";
  HttpConnection connection(server_.port);
  Request request{http::verb::post, "/upload", 11};
  request.body() = payload;
  const json echo = body_json(connection.send(std::move(request)));
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["body_size"], payload.size());
  EXPECT_EQ(echo["body_sha256"], to_hex(sha256(payload)));
}

TEST_F(EchoServerTest, CountsChunkedRequestBody) {
  HttpConnection connection(server_.port);
  connection.send_raw(
      "POST /chunked HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  const Response response = connection.read_response();
  ASSERT_EQ(response.result_int(), 200);
  const json echo = body_json(response);
  EXPECT_EQ(echo["body_size"], 11);
  EXPECT_EQ(echo["body_sha256"], to_hex(sha256("hello world")));
  EXPECT_EQ(echo["headers"]["transfer-encoding"], "chunked");
}

TEST_F(EchoServerTest, KeepAliveReusesTheConnection) {
  HttpConnection first(server_.port);
  const json a = body_json(first.get("/1"));
  const json b = body_json(first.get("/2"));
  const json c = body_json(first.get("/3"));
  EXPECT_EQ(a["connection_id"], b["connection_id"]);
  EXPECT_EQ(b["connection_id"], c["connection_id"]);
  EXPECT_EQ(a["request_on_connection"], 1);
  EXPECT_EQ(b["request_on_connection"], 2);
  EXPECT_EQ(c["request_on_connection"], 3);

  HttpConnection second(server_.port);
  const json d = body_json(second.get("/4"));
  EXPECT_NE(d["connection_id"], a["connection_id"]);
  EXPECT_EQ(d["request_on_connection"], 1);
}

TEST_F(EchoServerTest, ConnectionCloseIsHonoured) {
  HttpConnection connection(server_.port);
  const Response response = connection.get("/bye", {{"Connection", "close"}});
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(connection.closed_by_peer());
}

TEST_F(EchoServerTest, Http10WithoutKeepAliveIsClosed) {
  HttpConnection connection(server_.port);
  connection.send_raw("GET /old HTTP/1.0\r\n\r\n");
  const Response response = connection.read_response();
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(body_json(response)["path"], "/old");
  EXPECT_TRUE(connection.closed_by_peer());
}

TEST_F(EchoServerTest, OkIsPlainText) {
  const Response response = http_get(server_.port, "/ok");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "text/plain");
  EXPECT_EQ(response.body(), "ok");
}

TEST_F(EchoServerTest, BytesSendsExactLengthOfThePattern) {
  HttpConnection connection(server_.port);
  const Response response = connection.get("/bytes/1000003");
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_length], "1000003");
  EXPECT_FALSE(response.chunked());
  EXPECT_EQ(response.body(), expected_pattern(0, 1000003));
  // The connection stays usable after a large streamed body.
  EXPECT_EQ(connection.get("/bytes/0").body(), "");
  EXPECT_EQ(connection.get("/ok").body(), "ok");
}

TEST_F(EchoServerTest, BytesCanBeChunked) {
  HttpConnection connection(server_.port);
  const Response response = connection.get("/bytes/200001?chunked=1");
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_TRUE(response.chunked());
  EXPECT_EQ(response.count(http::field::content_length), 0u);
  EXPECT_EQ(response.body(), expected_pattern(0, 200001));
  EXPECT_EQ(connection.get("/ok").body(), "ok");
}

TEST_F(EchoServerTest, BytesRejectsANonNumber) {
  EXPECT_EQ(http_get(server_.port, "/bytes/12x").result_int(), 400);
}

TEST_F(EchoServerTest, HeadOfBytesHasLengthButNoBody) {
  HttpConnection connection(server_.port);
  connection.send_raw("HEAD /bytes/100 HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n");
  const std::string raw = read_until_closed(connection.socket());
  EXPECT_EQ(status_of(raw), 200);
  EXPECT_NE(raw.find("Content-Length: 100\r\n"), std::string::npos);
  EXPECT_TRUE(raw.ends_with("\r\n\r\n")) << raw;
}

TEST_F(EchoServerTest, LargeDownloadStreamsWithBoundedMemory) {
  constexpr std::uint64_t kLength = 512ull * 1024 * 1024;
  RawConnection connection(server_.port);
  asio::write(connection.socket, asio::buffer(std::string("GET /bytes/" + std::to_string(kLength) +
                                                          " HTTP/1.1\r\nHost: e\r\n\r\n")));
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(connection.socket, connection.buffer, parser);
  ASSERT_EQ(parser.get().result_int(), 200);
  ASSERT_EQ(parser.content_length().value_or(0), kLength);

  std::vector<char> chunk(1 << 20);
  std::uint64_t received = 0;
  bool pattern_ok = true;
  long rss_midway_kib = 0;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    boost::system::error_code ec;
    http::read(connection.socket, connection.buffer, parser, ec);
    ASSERT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
    const std::size_t n = chunk.size() - parser.get().body().size;
    // Spot-check the pattern at the start of every piece (comparing all 512 MiB is slow in Debug).
    const std::size_t checked = std::min<std::size_t>(n, 64);
    pattern_ok = pattern_ok &&
                 std::string_view(chunk.data(), checked) == expected_pattern(received, checked);
    received += n;
    if (rss_midway_kib == 0 && received >= kLength / 2) {
      rss_midway_kib = rss_kib(server_.process->pid());
    }
  }
  EXPECT_EQ(received, kLength);
  EXPECT_TRUE(pattern_ok);
  EXPECT_GT(rss_midway_kib, 0);
  EXPECT_LT(rss_midway_kib, kBoundedRssKib);
}

// Streams `total` bytes as a chunked request body and returns the parsed echo.
json upload_chunked(RawConnection& connection, std::uint64_t total, const std::string& piece,
                    const std::function<void(std::uint64_t)>& on_progress) {
  std::ostringstream head;
  head << "PUT /upload HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n";
  asio::write(connection.socket, asio::buffer(head.str()));
  std::ostringstream size_line;
  size_line << std::hex << piece.size() << "\r\n";
  const std::string chunk_head = size_line.str();
  for (std::uint64_t sent = 0; sent < total; sent += piece.size()) {
    const std::array<asio::const_buffer, 3> chunk = {asio::buffer(chunk_head), asio::buffer(piece),
                                                     asio::buffer("\r\n", 2)};
    asio::write(connection.socket, chunk);
    on_progress(sent + piece.size());
  }
  asio::write(connection.socket, asio::buffer(std::string("0\r\n\r\n")));
  Response response;
  http::read(connection.socket, connection.buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  return json::parse(response.body());
}

std::string hex_sha256_of_repeats(const std::string& piece, std::uint64_t count) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  for (std::uint64_t i = 0; i < count; ++i) EVP_DigestUpdate(context, piece.data(), piece.size());
  Sha256 digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest.data(), &length);
  EVP_MD_CTX_free(context);
  return to_hex(digest);
}

TEST_F(EchoServerTest, LargeChunkedUploadStreamsWithBoundedMemory) {
  const std::string piece = expected_pattern(0, 1 << 20);
  constexpr std::uint64_t kPieces = 512;
  const std::uint64_t total = kPieces * piece.size();
  RawConnection connection(server_.port);
  long rss_midway_kib = 0;
  const json echo = upload_chunked(connection, total, piece, [&](std::uint64_t sent) {
    if (rss_midway_kib == 0 && sent >= total / 2) {
      rss_midway_kib = rss_kib(server_.process->pid());
    }
  });
  EXPECT_EQ(echo["body_size"], total);
  EXPECT_EQ(echo["body_sha256"], hex_sha256_of_repeats(piece, kPieces));
  EXPECT_GT(rss_midway_kib, 0);
  EXPECT_LT(rss_midway_kib, kBoundedRssKib);
}

TEST_F(EchoServerTest, StatusAnswersWithThatStatusAndTheEcho) {
  HttpConnection connection(server_.port);
  const Response not_found = connection.get("/status/404?q=1");
  EXPECT_EQ(not_found.result_int(), 404);
  const json echo = body_json(not_found);
  EXPECT_EQ(echo["path"], "/status/404");
  EXPECT_EQ(echo["query"], "q=1");

  const Response unavailable = connection.get("/status/503");
  EXPECT_EQ(unavailable.result_int(), 503);
  EXPECT_EQ(body_json(unavailable)["request_on_connection"], 2);
}

TEST_F(EchoServerTest, StatusWithoutBodyHasNoBody) {
  HttpConnection connection(server_.port);
  const Response no_content = connection.get("/status/204");
  EXPECT_EQ(no_content.result_int(), 204);
  EXPECT_EQ(no_content.body(), "");
  EXPECT_EQ(no_content.count(http::field::content_length), 0u);
  EXPECT_EQ(connection.get("/ok").body(), "ok");  // framing intact after a body-less answer
}

TEST_F(EchoServerTest, StatusOutOfRangeIsBadRequest) {
  EXPECT_EQ(http_get(server_.port, "/status/101").result_int(), 400);
  EXPECT_EQ(http_get(server_.port, "/status/600").result_int(), 400);
  EXPECT_EQ(http_get(server_.port, "/status/abc").result_int(), 400);
}

TEST_F(EchoServerTest, DelayAnswersNoSooner) {
  const auto start = std::chrono::steady_clock::now();
  const Response response = http_get(server_.port, "/delay/150");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(body_json(response)["path"], "/delay/150");
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
}

TEST_F(EchoServerTest, CloseMidBodySendsLessThanPromised) {
  HttpConnection connection(server_.port);
  connection.send_raw("GET /close-mid-body HTTP/1.1\r\nHost: e\r\n\r\n");
  const std::string raw = read_until_closed(connection.socket());
  EXPECT_EQ(status_of(raw), 200);
  EXPECT_NE(raw.find("Content-Length: 1000\r\n"), std::string::npos);
  const std::size_t body_start = raw.find("\r\n\r\n");
  ASSERT_NE(body_start, std::string::npos);
  EXPECT_EQ(raw.substr(body_start + 4), expected_pattern(0, 100));
}

TEST_F(EchoServerTest, OkThenCloseKeepsAliveInItsHeadButCloses) {
  HttpConnection connection(server_.port);
  connection.send_raw("GET /ok-then-close HTTP/1.1\r\nHost: e\r\n\r\n");
  const std::string raw = read_until_closed(connection.socket());
  EXPECT_EQ(status_of(raw), 200);
  EXPECT_EQ(raw.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(raw.ends_with("\r\n\r\nok"));
  server_.process->wait_for_line("^echo-server closed after /ok-then-close$");
}

TEST_F(EchoServerTest, ExpectContinueGetsInterimResponse) {
  HttpConnection connection(server_.port);
  connection.send_raw(
      "POST /continue HTTP/1.1\r\nHost: e\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  const Response interim = connection.read_response();
  EXPECT_EQ(interim.result_int(), 100);
  connection.send_raw("data");
  const Response final_response = connection.read_response();
  EXPECT_EQ(final_response.result_int(), 200);
  EXPECT_EQ(body_json(final_response)["body_size"], 4);
}

TEST_F(EchoServerTest, OversizedHeaderIs431) {
  const std::string raw = raw_exchange(server_.port, "GET / HTTP/1.1\r\nHost: e\r\nX-Big: " +
                                                         std::string(70 * 1024, 'x') + "\r\n\r\n");
  EXPECT_EQ(status_of(raw), 431);
}

TEST_F(EchoServerTest, HeaderUnderTheLimitIsAccepted) {
  const Response response = http_get(server_.port, "/", {{"X-Big", std::string(60 * 1024, 'x')}});
  EXPECT_EQ(response.result_int(), 200);
}

TEST_F(EchoServerTest, MalformedRequestIs400) {
  EXPECT_EQ(status_of(raw_exchange(server_.port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n")), 400);
}

TEST(EchoServerOptions, MaxBodyRefusesLargerBodies) {
  const EchoServer server = start_echo_server("limited", {"--max-body", "10"});
  HttpConnection within(server.port);
  Request fits{http::verb::post, "/", 11};
  fits.body() = std::string(10, 'x');
  EXPECT_EQ(within.send(std::move(fits)).result_int(), 200);

  HttpConnection beyond(server.port);
  Request too_big{http::verb::post, "/", 11};
  too_big.body() = std::string(11, 'x');
  EXPECT_EQ(beyond.send(std::move(too_big)).result_int(), 413);

  const std::string chunked = raw_exchange(
      server.port,
      "POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
      "8\r\n12345678\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(chunked), 413);
}

TEST(EchoServerOptions, NameIsReported) {
  const EchoServer alpha = start_echo_server("alpha");
  const EchoServer beta = start_echo_server("beta");
  EXPECT_EQ(body_json(http_get(alpha.port, "/"))["server"], "alpha");
  EXPECT_EQ(body_json(http_get(beta.port, "/"))["server"], "beta");
}

TEST(EchoServerOptions, NoServerFieldWithoutName) {
  Process unnamed({ECHO_SERVER_BIN, "--listen", "127.0.0.1:0"});
  const auto port = static_cast<std::uint16_t>(
      std::stoi(unnamed.wait_for_line(R"(^echo-server listening on 127\.0\.0\.1:(\d+)$)")));
  EXPECT_FALSE(body_json(http_get(port, "/")).contains("server"));
}

TEST(EchoServerOptions, ManyThreadsServeConcurrentConnections) {
  const EchoServer server = start_echo_server("threaded", {"--threads", "4"});
  constexpr int kClients = 8;
  constexpr int kRequestsEach = 50;
  std::atomic<int> answered{0};
  std::vector<std::uint64_t> connection_ids(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpConnection connection(server.port);
      for (int r = 1; r <= kRequestsEach; ++r) {
        const json echo = json::parse(connection.get("/c" + std::to_string(c)).body());
        if (echo["request_on_connection"] == r && echo["path"] == "/c" + std::to_string(c)) {
          ++answered;
        }
        connection_ids[c] = echo["connection_id"];
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), kClients * kRequestsEach);
  EXPECT_EQ(std::set(connection_ids.begin(), connection_ids.end()).size(), kClients * 1u);
}

TEST(EchoServerOptions, HelpDescribesSpecialPaths) {
  Process help({ECHO_SERVER_BIN, "--help"});
  help.wait_for_line(R"(^  /ok-then-close )");  // the last special path listed
  EXPECT_EQ(help.wait_exit(), 0);
  for (const char* path :
       {"/bytes/N", "/status/NNN", "/delay/MS", "/close-mid-body", "/ok-then-close", "/ok"}) {
    EXPECT_NE(help.output().find(path), std::string::npos) << path;
  }
}

TEST(EchoServerOptions, UnknownOptionFails) {
  Process bad({ECHO_SERVER_BIN, "--frobnicate", "1"});
  EXPECT_EQ(bad.wait_exit(), 2);
}

TEST(EchoServerOptions, StopsOnSigterm) {
  const EchoServer server = start_echo_server();
  HttpConnection idle(server.port);  // an open keep-alive connection must not hold it up
  server.process->signal(SIGTERM);
  EXPECT_EQ(server.process->wait_exit(), 0);
}

}  // namespace
}  // namespace tollgate::test
