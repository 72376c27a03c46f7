// The idle phase of a keep-alive connection, plain and TLS: an idle connection holds no read buffer
// and waits for its socket to become readable. Nothing a client sent may be left waiting there
// (bytes the TLS layer has already taken off the socket, pipelined requests), and the idle timeout
// and the drain still close it.
#include <gtest/gtest.h>

#include <csignal>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "pki.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kClientIdle = std::chrono::milliseconds(600);
constexpr auto kTimeout = std::chrono::seconds(10);

// A TLS client connection to 127.0.0.1 that verifies the server against `ca_file` as "localhost".
// Every operation is asynchronous and bounded, as in http_client.cpp.
class TlsConnection {
 public:
  TlsConnection(std::uint16_t port, const std::string& ca_file)
      : context_(ssl::context::tls_client), stream_(io_, context_) {
    context_.load_verify_file(ca_file);
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.next_layer().set_option(tcp::no_delay(true));
    throw_if(run([&](auto handler) { stream_.async_handshake(ssl::stream_base::client, handler); }),
             "handshake");
  }

  // One write: up to 16 KiB leave as a single TLS record.
  void send_raw(const std::string& bytes) {
    throw_if(run([&](auto handler) { asio::async_write(stream_, asio::buffer(bytes), handler); }),
             "write");
  }

  Response read_response() {
    http::response_parser<http::string_body> parser;
    throw_if(run([&](auto handler) { http::async_read(stream_, buffer_, parser, handler); }),
             "read response");
    return parser.release();
  }

  Response get(const std::string& target) {
    send_raw("GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    return read_response();
  }

  // True when the server ended the connection (close_notify, or the socket closed) in time.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (buffer_.size() > 0) return false;
    char c;
    const error_code ec =
        run([&](auto handler) { stream_.async_read_some(asio::buffer(&c, 1), handler); }, timeout);
    return ec == asio::error::eof || ec == ssl::error::stream_truncated ||
           ec == asio::error::connection_reset;
  }

 private:
  template <class Start>
  error_code run(Start start, std::chrono::milliseconds timeout = kTimeout) {
    bool done = false;
    error_code result;
    start([&](error_code ec, std::size_t = 0) {
      done = true;
      result = ec;
    });
    io_.restart();
    io_.run_for(timeout);
    if (done) return result;
    error_code ignored;
    stream_.next_layer().cancel(ignored);
    io_.restart();
    io_.run();
    return asio::error::timed_out;
  }

  static void throw_if(error_code ec, const char* what) {
    if (ec) throw std::runtime_error(std::string(what) + ": " + ec.message());
  }

  asio::io_context io_;
  ssl::context context_;
  ssl::stream<tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
};

// A GET whose request line and headers take exactly `size` bytes.
std::string request_of_size(const std::string& path, std::size_t size) {
  const std::string start = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

std::string echoed_path(const Response& r) {
  return nlohmann::json::parse(r.body())["path"].get<std::string>();
}

class KeepAliveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_ = start_echo_server();
    gateway_ = start_tollgate(
        "listen:\n"
        "  - address: 127.0.0.1:0\n"
        "  - address: 127.0.0.1:0\n"
        "    tls: { certificate: " +
            pki_.cert + ", key: " + pki_.key +
            " }\n"
            "admin: { address: 127.0.0.1:0 }\n"
            "workers: 1\n"
            "log: { level: info, format: text, access_log: stdout }\n"
            "timeouts: { client_idle: " +
            std::to_string(kClientIdle.count()) +
            "ms }\n"
            "upstreams:\n"
            "  echo: { targets: [ " +
            echo_.url() +
            " ] }\n"
            "routes:\n"
            "  - { name: all, match: { paths: [ / ] }, upstream: echo }\n",
        2);
  }

  std::uint16_t plain_port() const { return gateway_.ports.at(0); }
  std::uint16_t tls_port() const { return gateway_.ports.at(1); }

  TempDir dir_;
  TestPki pki_{dir_};
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_F(KeepAliveTest, SequentialRequestsOnOneTlsConnectionAreAnswered) {
  TlsConnection c(tls_port(), pki_.ca);
  for (const std::string path : {"/one", "/two", "/three"}) {
    const Response r = c.get(path);
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(echoed_path(r), path);
  }
}

// Requests pipelined in one TLS record: the server's TLS layer decrypts the whole record at its
// first read and keeps what did not fit in that read, so the socket never becomes readable again
// for the rest. Head sizes around the server's read size put a request boundary exactly at the end
// of a read.
TEST_F(KeepAliveTest, RequestsPipelinedInOneTlsRecordAreAllAnswered) {
  for (const std::size_t first_size : {4095u, 4096u, 4097u, 8192u}) {
    SCOPED_TRACE(first_size);
    TlsConnection c(tls_port(), pki_.ca);
    c.send_raw(request_of_size("/first", first_size) + request_of_size("/second", 300) +
               request_of_size("/third", 4096));
    for (const std::string path : {"/first", "/second", "/third"}) {
      const Response r = c.read_response();
      EXPECT_EQ(r.result_int(), 200);
      EXPECT_EQ(echoed_path(r), path);
    }
  }
}

TEST_F(KeepAliveTest, RequestPipelinedHalfWayIsAnsweredWhenItsRestArrives) {
  HttpConnection c(plain_port());
  const std::string second = request_of_size("/second", 200);
  c.send_raw(request_of_size("/first", 200) + second.substr(0, 100));
  const Response first = c.read_response();
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(echoed_path(first), "/first");
  c.send_raw(second.substr(100));
  const Response r = c.read_response();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(echoed_path(r), "/second");
}

TEST_F(KeepAliveTest, ConnectionThatSendsNothingIsClosedAfterClientIdleWithoutAnAnswer) {
  const auto started = Clock::now();
  HttpConnection c(plain_port());
  EXPECT_TRUE(c.closed_by_peer(std::chrono::seconds(5)));  // EOF, no byte before it
  EXPECT_GE(Clock::now() - started, kClientIdle - std::chrono::milliseconds(50));
}

TEST_F(KeepAliveTest, IdleTlsConnectionIsClosedAfterClientIdle) {
  TlsConnection c(tls_port(), pki_.ca);
  EXPECT_EQ(c.get("/x").result_int(), 200);
  const auto idle_since = Clock::now();
  EXPECT_TRUE(c.closed_by_peer(std::chrono::seconds(5)));
  EXPECT_GE(Clock::now() - idle_since, kClientIdle - std::chrono::milliseconds(50));
}

TEST_F(KeepAliveTest, IdleConnectionsCloseOnSigtermAndTheGatewayExits) {
  HttpConnection fresh(plain_port());
  HttpConnection after_request(plain_port());
  ASSERT_EQ(after_request.get("/x").result_int(), 200);
  TlsConnection tls(tls_port(), pki_.ca);
  ASSERT_EQ(tls.get("/x").result_int(), 200);
  gateway_.process->signal(SIGTERM);
  // Well before client_idle would close them.
  const auto signalled = Clock::now();
  EXPECT_TRUE(fresh.closed_by_peer());
  EXPECT_TRUE(after_request.closed_by_peer());
  EXPECT_TRUE(tls.closed_by_peer());
  EXPECT_LT(Clock::now() - signalled, kClientIdle);
  EXPECT_EQ(gateway_.process->wait_exit(), 0);
}

}  // namespace
}  // namespace tollgate::test
