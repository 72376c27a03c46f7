// Failing upstreams: every way an upstream breaks gets its documented answer (502 when it cannot be
// used, 504 when it is too slow to answer, a closed client connection once a response has begun),
// the gateway goes on serving, and thousands of faulty exchanges leave no descriptor or memory
// behind. Each fault is first shown to happen on the echo server directly, so no test passes
// against a fault that did not occur.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kUpstreamRead = milliseconds(400);
constexpr auto kExchangeTimeout = std::chrono::seconds(10);

// What a client saw of one exchange on a fresh connection.
struct Seen {
  std::string bytes;
  bool closed = false;  // the peer closed (or reset) the connection within the timeout
};

// One request on a fresh connection, read until the peer closes it. Plain POSIX sockets with
// poll(): cheap enough for the thousands of exchanges of the leak check, and every wait bounded.
Seen exchange_until_close(std::uint16_t port, const std::string& request,
                          milliseconds timeout = kExchangeTimeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Seen seen;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw std::runtime_error("cannot send the request");
  }
  const auto deadline = Clock::now() + timeout;
  char buffer[16 * 1024];
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      seen.closed = n == 0 || errno == ECONNRESET;
      break;
    }
    seen.bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return seen;
}

// Keep-alive by default: when the gateway closes the connection after a fault, it chose to.
std::string get_request(const std::string& target, bool close = false) {
  return "GET " + target + " HTTP/1.1\r\nHost: upstream-faults\r\n" +
         (close ? "Connection: close\r\n\r\n" : "\r\n");
}

// The response in `bytes` as an HTTP/1.1 client reads it: its status, and whether it is whole (a
// cut response must never look whole to a client).
struct Reading {
  int status = 0;
  bool complete = false;
  std::string body;
};

Reading read_response(const std::string& bytes) {
  http::response_parser<http::string_body> parser;
  parser.header_limit(1024 * 1024);
  parser.body_limit(64 * 1024 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  Reading reading;
  std::size_t used = 0;
  try {
    used = parser.put(boost::asio::buffer(bytes), ec);
  } catch (const std::length_error&) {
    // Beast keeps no field over 64 KiB: take the status line, and call the response unreadable.
    reading.status = status_of(bytes);
    return reading;
  }
  if (!parser.is_header_done()) return reading;
  reading.status = parser.get().result_int();
  reading.complete = !ec && used == bytes.size() && parser.is_done();
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);  // the bytes end where the connection closed
    reading.complete = !ec && parser.is_done();
  }
  reading.body = parser.get().body();
  return reading;
}

// A process's descriptor count once it holds no connection: what it must return to after faults.
int settled_fds(pid_t pid) {
  EXPECT_TRUE(poll_until([&] { return open_connections(pid) == 0; }))
      << open_connections(pid) << " connections still open";
  return open_fds(pid);
}

// True when the process is back to `baseline` descriptors within a few seconds.
bool returns_to(pid_t pid, int baseline) {
  return poll_until([&] { return open_fds(pid) <= baseline; });
}

// AddressSanitizer holds freed memory in a quarantine of 256 MiB by default, which would hide any
// growth the leak check looks for; the gateway runs with a small one there.
std::map<std::string, std::string> gateway_environment() {
#if defined(__SANITIZE_ADDRESS__)
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::string options = inherited ? std::string(inherited) + ":" : std::string();
  return {{"ASAN_OPTIONS", options + "quarantine_size_mb=4"}};
#else
  return {};
#endif
}

class UpstreamFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_ = start_echo_server("faulty");
    gateway_ = start_tollgate(
        basic_config("upstreams:\n"
                     "  echo: { targets: [ " +
                         echo_.url() +
                         " ] }\n"
                         "  dead: { targets: [ http://127.0.0.1:" +
                         std::to_string(dead_port_.number()) +
                         " ] }\n"
                         "routes:\n"
                         "  - { name: echo, match: { paths: [ / ] }, upstream: echo }\n"
                         "  - { name: dead, match: { paths: [ /dead ] }, upstream: dead }\n",
                     "limits: { max_response_header_bytes: 128KiB }\n"
                     "timeouts: { upstream_read: " +
                         std::to_string(kUpstreamRead.count()) + "ms, upstream_connect: 500ms }\n"),
        1, true, gateway_environment());
  }

  void TearDown() override {
    // Nothing an upstream does may escape the request it broke.
    EXPECT_EQ(gateway_.process->count_lines("unexpected error"), 0) << gateway_.process->output();
    EXPECT_TRUE(gateway_.process->running());
  }

  Seen through_gateway(const std::string& target, bool close = false) {
    return exchange_until_close(gateway_.port(), get_request(target, close));
  }
  Seen direct(const std::string& target) {
    return exchange_until_close(echo_.port, get_request(target, true));
  }
  // An exchange expected to succeed: the client asks for the close that ends it.
  Reading answered(const std::string& target) {
    return read_response(through_gateway(target, /*close=*/true).bytes);
  }
  bool still_serves() { return http_get(gateway_.port(), "/ok").result_int() == 200; }
  pid_t gateway_pid() const { return gateway_.process->pid(); }

  EchoServer echo_;
  RefusingPort dead_port_;  // the "dead" upstream: nothing listens there
  Tollgate gateway_;
};

// Answered by the gateway itself: a JSON error naming the request, then the connection closes.
void expect_gateway_error(const Seen& seen, int status) {
  const Reading reading = read_response(seen.bytes);
  EXPECT_EQ(reading.status, status) << seen.bytes;
  EXPECT_TRUE(reading.complete) << seen.bytes;
  EXPECT_TRUE(seen.closed);
  if (reading.complete) {
    EXPECT_FALSE(nlohmann::json::parse(reading.body)["request_id"].get<std::string>().empty());
  }
}

// A response that had begun when the upstream failed: the client gets its head and the body bytes
// the upstream did send (relayed as they came, not held back), then a closed connection, and
// nothing that reads as a whole response.
void expect_cut_response(const Seen& seen, const std::string& body_sent) {
  const Reading reading = read_response(seen.bytes);
  EXPECT_EQ(reading.status, 200) << seen.bytes;
  EXPECT_EQ(reading.body, body_sent);
  EXPECT_FALSE(reading.complete) << seen.bytes;
  EXPECT_TRUE(seen.closed) << "the connection was left open";
}

// The first bytes of the echo server's /bytes pattern, which its faults send as bodies.
std::string pattern(std::size_t length) {
  std::string bytes(length, '\0');
  for (std::size_t i = 0; i < length; ++i) bytes[i] = static_cast<char>('a' + i % 26);
  return bytes;
}

TEST_F(UpstreamFaultsTest, RefusedConnectionIs502) {
  expect_gateway_error(through_gateway("/dead/x"), 502);
  EXPECT_TRUE(still_serves());
}

TEST_F(UpstreamFaultsTest, ResetBeforeAnyAnswerIs502) {
  const Seen upstream = direct("/reset");
  EXPECT_TRUE(upstream.closed && upstream.bytes.empty());

  expect_gateway_error(through_gateway("/reset"), 502);
  EXPECT_TRUE(still_serves());
}

TEST_F(UpstreamFaultsTest, ResetMidBodyClosesTheClientConnection) {
  const Seen upstream = direct("/reset-mid-body");
  EXPECT_FALSE(read_response(upstream.bytes).complete);
  EXPECT_TRUE(upstream.closed);

  expect_cut_response(through_gateway("/reset-mid-body"), pattern(100));
  EXPECT_TRUE(still_serves());
}

// The head has one deadline from its first byte: an upstream cannot keep the exchange alive by
// trickling it.
TEST_F(UpstreamFaultsTest, HeadTrickledPastUpstreamReadIs504) {
  expect_gateway_error(through_gateway("/slow-head/100"), 504);
  EXPECT_TRUE(still_serves());
}

// The 100 bytes sent before the stall reach the client while the gateway waits for the rest: a
// body is relayed as it comes (a stream of events must not wait for a buffer to fill).
TEST_F(UpstreamFaultsTest, BodyStalledPastUpstreamReadClosesTheClientConnection) {
  expect_cut_response(through_gateway("/stall-mid-body/3000"), pattern(100));
  EXPECT_TRUE(still_serves());
}

// upstream_read bounds each wait for the upstream, not the whole body.
TEST_F(UpstreamFaultsTest, BodyPausedWithinUpstreamReadPasses) {
  const Reading reading = answered("/stall-mid-body/50");
  EXPECT_EQ(reading.status, 200);
  EXPECT_TRUE(reading.complete);
  EXPECT_EQ(reading.body.size(), 200u);
}

TEST_F(UpstreamFaultsTest, HeadOverMaxResponseHeaderBytesIs502) {
  const Reading upstream = read_response(direct("/big-head/200000").bytes);
  EXPECT_EQ(upstream.status, 200);
  EXPECT_TRUE(upstream.complete);

  expect_gateway_error(through_gateway("/big-head/200000"), 502);
  const Reading within = answered("/big-head/100000");
  EXPECT_EQ(within.status, 200);
  EXPECT_TRUE(within.complete);
  EXPECT_TRUE(still_serves());
}

// Beast keeps no header field over 64 KiB, whatever the configured limit allows.
TEST_F(UpstreamFaultsTest, HeaderFieldOver64KiBIs502) {
  const Seen upstream = direct("/big-field/70000");
  EXPECT_NE(upstream.bytes.find("X-Big: " + std::string(70000, 'b') + "\r\n"), std::string::npos);

  expect_gateway_error(through_gateway("/big-field/70000"), 502);
  EXPECT_TRUE(still_serves());
}

// What the client gets depends on how the upstream's bytes arrived: 502 when the trailer
// overflowed before anything of the response went out, else the cut response.
TEST_F(UpstreamFaultsTest, TrailerOver64KiBIs502OrClosesTheClientConnection) {
  const Seen upstream = direct("/big-trailer/70000");
  EXPECT_NE(upstream.bytes.find("0\r\nX-Trailer: " + std::string(70000, 't') + "\r\n\r\n"),
            std::string::npos);

  const Seen seen = through_gateway("/big-trailer/70000");
  if (read_response(seen.bytes).status == 502) {
    expect_gateway_error(seen, 502);
  } else {
    expect_cut_response(seen, "ok");
  }
  // A trailer of ordinary size ends the body as usual (trailers are not forwarded).
  const Reading small = answered("/big-trailer/1000");
  EXPECT_EQ(small.status, 200);
  EXPECT_TRUE(small.complete);
  EXPECT_EQ(small.body, "ok");
  EXPECT_TRUE(still_serves());
}

// A response delimited by the upstream's close, from an upstream that never closes: the gateway
// cannot know the body has ended, gives up after upstream_read, and does not present what it
// relayed as whole.
TEST_F(UpstreamFaultsTest, UpstreamThatNeverClosesClosesTheClientConnection) {
  const Seen upstream =
      exchange_until_close(echo_.port, get_request("/never-closes"), 2 * kUpstreamRead);
  EXPECT_FALSE(upstream.closed);

  expect_cut_response(through_gateway("/never-closes"), "ok");
  EXPECT_TRUE(still_serves());
}

// A response that never ends is relayed as long as the client reads; when the client leaves, the
// upstream connection goes too.
TEST_F(UpstreamFaultsTest, EndlessResponseEndsWhenTheClientLeaves) {
  auto read_a_while_then_leave = [&] {
    HttpConnection client(gateway_.port());
    client.send_raw(get_request("/endless"));
    std::string received;
    char piece[64 * 1024];
    while (received.size() < 4 * 1024 * 1024) {
      boost::system::error_code ec;
      const std::size_t n = client.socket().read_some(boost::asio::buffer(piece), ec);
      if (ec) return ec.message();
      received.append(piece, n);
    }
    return std::to_string(read_response(received).status);
  };
  EXPECT_EQ(read_a_while_then_leave(), "200");  // the first one sets up what stays
  const int gateway_fds = settled_fds(gateway_pid());
  const int echo_fds = settled_fds(echo_.process->pid());

  EXPECT_EQ(read_a_while_then_leave(), "200");
  EXPECT_TRUE(returns_to(gateway_pid(), gateway_fds));
  EXPECT_TRUE(returns_to(echo_.process->pid(), echo_fds)) << "the upstream connection stayed";
  EXPECT_TRUE(still_serves());
}

// Runs `count` exchanges over `threads` client threads; returns how many did not end as `expected`
// says they should.
int run_exchanges(std::uint16_t port, int count, int threads,
                  const std::function<std::string(int)>& target_of,
                  const std::function<bool(int, const Seen&)>& expected) {
  std::atomic<int> next{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        const std::string target = target_of(i);
        const Seen seen = exchange_until_close(port, get_request(target));
        if (expected(i, seen)) continue;
        // Says which exchange went wrong and how, for the failure message.
        const Reading reading = read_response(seen.bytes);
        std::fprintf(stderr, "unexpected end of %s: status %d, %s, %s, %zu bytes\n", target.c_str(),
                     reading.status, reading.complete ? "complete" : "incomplete",
                     seen.closed ? "closed" : "not closed", seen.bytes.size());
        ++wrong;
      }
    });
  }
  for (auto& client : clients) client.join();
  return wrong.load();
}

struct FaultCase {
  const char* target;
  int status;           // the gateway's own answer, or 0 for a cut response
  bool or_cut = false;  // a cut response is as right as `status` (it depends on timing)
};

// Faults that end at once (no timeout to wait for), each with its documented outcome.
const std::vector<FaultCase>& fast_faults() {
  static const std::vector<FaultCase> cases = {
      {"/dead/x", 502},
      {"/reset", 502},
      {"/big-head/200000", 502},
      {"/big-field/70000", 502},
      // A reset that reaches tollgate before it has read the bytes sent ahead of it takes them
      // with it (the kernel drops unread data on a reset): then nothing has reached the client,
      // and 502 is the answer.
      {"/reset-mid-body", 502, true},
      {"/close-mid-body", 0},
      {"/big-trailer/70000", 502, true},
  };
  return cases;
}

// Faults that end only when upstream_read runs out.
const std::vector<FaultCase>& slow_faults() {
  static const std::vector<FaultCase> cases = {
      {"/slow-head/100", 504}, {"/stall-mid-body/3000", 0}, {"/never-closes", 0}};
  return cases;
}

bool ended_as_documented(const FaultCase& fault, const Seen& seen) {
  const Reading reading = read_response(seen.bytes);
  if (!seen.closed) return false;
  const bool cut = reading.status == 200 && !reading.complete;
  if (fault.status == 0) return cut;
  return (reading.status == fault.status && reading.complete) || (fault.or_cut && cut);
}

int run_faults(std::uint16_t port, const std::vector<FaultCase>& faults, int count, int threads) {
  return run_exchanges(
      port, count, threads, [&](int i) { return std::string(faults[i % faults.size()].target); },
      [&](int i, const Seen& seen) {
        return ended_as_documented(faults[i % faults.size()], seen);
      });
}

#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssGrowthBoundKib = 24 * 1024;  // ASan's allocator and small quarantine move more
#else
constexpr long kRssGrowthBoundKib =
    8 * 1024;  // under a byte per exchange would go unseen; more not
#endif

// 10,000 fast faults (and 200 of the slow ones, which each last upstream_read) after a warm-up of
// the same, so that pools and allocator arenas are at their steady state: the descriptor count
// returns to where it started, and memory stays flat.
TEST_F(UpstreamFaultsTest, TenThousandFaultyExchangesLeaveNoDescriptorOrMemoryBehind) {
  constexpr int kWarmUp = 2'000;
  constexpr int kFast = 10'000;
  constexpr int kSlow = 200;
  constexpr int kThreads = 4;
  constexpr int kSlowThreads = 50;  // the slow ones wait, so many at once
  EXPECT_EQ(run_faults(gateway_.port(), fast_faults(), kWarmUp, kThreads), 0);
  EXPECT_EQ(run_faults(gateway_.port(), slow_faults(), kSlow / 4, kSlowThreads), 0);
  const int fds_before = settled_fds(gateway_pid());
  const long rss_before = rss_kib(gateway_pid());

  EXPECT_EQ(run_faults(gateway_.port(), fast_faults(), kFast, kThreads), 0);
  EXPECT_EQ(run_faults(gateway_.port(), slow_faults(), kSlow, kSlowThreads), 0);

  EXPECT_TRUE(returns_to(gateway_pid(), fds_before))
      << open_fds(gateway_pid()) << " descriptors, " << fds_before << " before";
  const long growth_kib = rss_kib(gateway_pid()) - rss_before;
  RecordProperty("fds", fds_before);
  RecordProperty("rss_before_kib", std::to_string(rss_before));
  RecordProperty("rss_growth_kib", std::to_string(growth_kib));
  EXPECT_LT(growth_kib, kRssGrowthBoundKib)
      << "RSS grew by " << growth_kib << " KiB over " << kFast + kSlow << " faulty exchanges";
  EXPECT_TRUE(still_serves());
}

}  // namespace
}  // namespace tollgate::test
