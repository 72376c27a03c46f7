// Request smuggling and framing: requests two HTTP implementations could split differently are
// refused with 400 (431 for sizes) and the connection closed, and the upstream (an echo that logs
// every request head it receives) never sees a request the client did not send as a whole. Bodies
// that merely look like requests stay bodies.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

constexpr std::string_view kTargetPlaceholder = "{T}";

// Long enough for a close that is on its way; an open connection stays open far longer
// (client_idle).
constexpr auto kCloseWait = std::chrono::seconds(3);

class SmugglingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] {
      echo_ = std::make_unique<EchoServer>(start_echo_server("echo", {"--log-requests"}));
      gateway_ = std::make_unique<Tollgate>(start_tollgate(
          basic_config("upstreams:\n"
                       "  echo: { targets: [ " +
                           echo_->url() +
                           " ] }\n"
                           "routes:\n"
                           "  - { name: all, match: { paths: [ / ] }, upstream: echo }\n",
                       // A generous head limit: chunk lines and trailers must be bounded on their
                       // own, not by the room a head may take.
                       "limits: { max_header_bytes: 96KiB, max_body_bytes: 1MiB }\n"
                       "timeouts: { client_idle: 30s, upstream_read: 5s }\n")));
    });
  }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }
  static SuiteSetup setup_;
  static void TearDownTestSuite() {
    gateway_.reset();
    echo_.reset();
  }

  // Waits until the echo has logged a request sent after everything before it: a request an
  // earlier case leaked reached the echo before the gateway answered that case, so it is in the
  // log by then.
  static void settle(const std::string& name) {
    const std::string path = "/sentinel/" + name;
    const Response r = http_get(gateway_->port(), path);
    EXPECT_EQ(r.result_int(), 200);
    echo_->process->wait_for_line("^echo-server request GET " + path + "$");
  }

  static int echo_requests(const std::string& path_pattern) {
    return echo_->process->count_lines("^echo-server request [A-Z]+ " + path_pattern);
  }

  static json echo_of(const Response& r) {
    EXPECT_EQ(r.result_int(), 200) << r.body();
    return r.result_int() == 200 ? json::parse(r.body()) : json::object();
  }

  static std::unique_ptr<EchoServer> echo_;
  static std::unique_ptr<Tollgate> gateway_;
};
SuiteSetup SmugglingTest::setup_;
std::unique_ptr<EchoServer> SmugglingTest::echo_;
std::unique_ptr<Tollgate> SmugglingTest::gateway_;

struct Refusal {
  const char* name;
  std::string request;  // {T} stands for the case's own target, /smuggle/<name>
  int status = 400;
};

std::string replace_target(std::string request, const std::string& target) {
  for (std::size_t at = request.find(kTargetPlaceholder); at != std::string::npos;
       at = request.find(kTargetPlaceholder, at)) {
    request.replace(at, kTargetPlaceholder.size(), target);
  }
  return request;
}

// A POST head to {T} with the given header lines, then `rest` (body and whatever follows).
std::string post(const std::string& headers, const std::string& rest) {
  return "POST {T} HTTP/1.1\r\nHost: gateway.test\r\n" + headers + "\r\n" + rest;
}

std::string chunked(const std::string& chunks) {
  return post("Transfer-Encoding: chunked\r\n", chunks);
}

// A whole request hidden where a proxy and an upstream might disagree on where the body ends.
const std::string kHidden = "GET /hidden/x HTTP/1.1\r\nHost: gateway.test\r\n\r\n";

std::string hex(std::size_t n) {
  char text[20];
  std::snprintf(text, sizeof text, "%zx", n);
  return text;
}

std::string repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

std::string length_of(const std::string& body) {
  return std::to_string(body.size());
}

// kHidden as one chunk, the whole of a chunked body.
const std::string kHiddenChunk = hex(kHidden.size()) + "\r\n" + kHidden + "\r\n";

const std::vector<Refusal> kRefusals = {
    // Content-Length and Transfer-Encoding together, in either order (CL.TE and TE.CL).
    {"clThenTe",
     post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nG" + kHidden)},
    {"teThenCl",
     post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", kHiddenChunk + "0\r\n\r\n")},
    {"zeroLengthWithTe", post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")},
    // Content-Length: one header, one plain decimal number.
    {"twoDifferentLengths",
     post("Content-Length: 3\r\nContent-Length: " + length_of("abc" + kHidden) + "\r\n",
          "abc" + kHidden)},
    {"twoEqualLengths", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")},
    {"lengthList", post("Content-Length: 5, 5\r\n", "hello")},
    {"lengthListDiffering",
     post("Content-Length: 5, " + length_of("hello" + kHidden) + "\r\n", "hello" + kHidden)},
    {"lengthPlus", post("Content-Length: +5\r\n", "hello")},
    {"lengthMinus", post("Content-Length: -5\r\n", "hello")},
    {"lengthHex", post("Content-Length: 0x5\r\n", "hello")},
    {"lengthInnerSpace", post("Content-Length: 5 5\r\n", "hello")},
    {"lengthEmpty", post("Content-Length:\r\n", "hello")},
    {"lengthOverflow", post("Content-Length: 184467440737095516160\r\n", "hello")},
    {"lengthVerticalTab", post("Content-Length: 5\x0b\r\n", "hello")},
    {"lengthFormFeed", post(std::string("Content-Length:") + '\x0c' + "5\r\n", "hello")},
    {"lengthNoBreakSpace", post("Content-Length: 5\xa0\r\n", "hello")},
    {"lengthSpaceBeforeColon", post("Content-Length : 5\r\n", "hello")},
    {"lengthUnderscore", post("Content_Length: " + length_of(kHidden) + "\r\n", kHidden)},
    // Any byte that is not a letter or digit is '_' to a CGI-style upstream.
    {"lengthDot", post("Content.Length: " + length_of(kHidden) + "\r\n", kHidden)},
    {"lengthPercent", post("Content%Length: " + length_of(kHidden) + "\r\n", kHidden)},
    // Transfer-Encoding: exactly "chunked", once, on HTTP/1.1.
    {"chunkedThenIdentity", post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n")},
    {"identityThenChunked", post("Transfer-Encoding: identity, chunked\r\n", "0\r\n\r\n")},
    {"gzipThenChunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n")},
    {"twoEncodingHeaders",
     post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")},
    {"xchunked", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n")},
    {"quotedChunked", post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n")},
    {"encodingSpaceBeforeColon", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n")},
    {"encodingVerticalTab",
     post(std::string("Transfer-Encoding:") + '\x0b' + "chunked\r\n", "0\r\n\r\n")},
    {"encodingUnderscore", post("Transfer_Encoding: chunked\r\n", kHiddenChunk + "0\r\n\r\n")},
    {"encodingDot", post("Transfer.Encoding: chunked\r\n", kHiddenChunk + "0\r\n\r\n")},
    {"encodingObsFold", post("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n")},
    {"encodingOnHttp10",
     "POST {T} HTTP/1.0\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    // Line structure of the head.
    {"obsFold", post("X-Folded: a\r\n b\r\n", "")},
    {"obsFoldTab", post("X-Folded: a\r\n\tb\r\n", "")},
    {"bareLfInHeaders", "GET {T} HTTP/1.1\r\nHost: gateway.test\nX-A: b\r\n\r\n"},
    {"bareLfEverywhere", "GET {T} HTTP/1.1\nHost: gateway.test\n\n"},
    {"bareCr", "GET {T} HTTP/1.1\r\nHost: gateway.test\rX-A: b\r\n\r\n"},
    {"nulInValue",
     std::string("GET {T} HTTP/1.1\r\nHost: gateway.test\r\nX-A: a") + '\0' + "b\r\n\r\n"},
    {"crInValue", "GET {T} HTTP/1.1\r\nHost: gateway.test\r\nX-A: a\rb\r\n\r\n"},
    {"nulInTarget", std::string("GET {T}") + '\0' + " HTTP/1.1\r\nHost: gateway.test\r\n\r\n"},
    {"delInValue", "GET {T} HTTP/1.1\r\nHost: gateway.test\r\nX-A: a\x7f\r\n\r\n"},
    {"emptyHeaderName", "GET {T} HTTP/1.1\r\nHost: gateway.test\r\n: b\r\n\r\n"},
    {"spaceBeforeFirstHeader", "GET {T} HTTP/1.1\r\n Host: gateway.test\r\n\r\n"},
    {"doubleSpaceInRequestLine", "GET  {T} HTTP/1.1\r\nHost: gateway.test\r\n\r\n"},
    {"trailingSpaceInRequestLine", "GET {T} HTTP/1.1 \r\nHost: gateway.test\r\n\r\n"},
    {"lowerCaseVersion", "GET {T} http/1.1\r\nHost: gateway.test\r\n\r\n"},
    {"http09", "GET {T}\r\n\r\n"},
    {"http2Version", "GET {T} HTTP/2.0\r\nHost: gateway.test\r\n\r\n"},
    {"http10WithoutHost", "GET {T} HTTP/1.0\r\n\r\n"},
    {"http11WithoutHost", "GET {T} HTTP/1.1\r\n\r\n"},
    // Chunk framing.
    {"chunkSizeNotHex", chunked("zz\r\nabc\r\n0\r\n\r\n")},
    {"chunkSizeOverflow", chunked("10000000000000000000005\r\nhello\r\n0\r\n\r\n")},
    {"chunkSizeNegative", chunked("-5\r\nhello\r\n0\r\n\r\n")},
    {"chunkSizePrefixed", chunked("0x5\r\nhello\r\n0\r\n\r\n")},
    {"chunkSizeLeadingSpace", chunked(" 5\r\nhello\r\n0\r\n\r\n")},
    {"chunkSizeEmpty", chunked("\r\nhello\r\n0\r\n\r\n")},
    {"chunkSizeBareLf", chunked("5\nhello\r\n0\r\n\r\n")},
    {"chunkDataTooLong", chunked("3\r\nhello\r\n0\r\n\r\n")},
    {"chunkDataTooShort", chunked("8\r\nhello\r\n0\r\n\r\n" + kHidden)},
    {"chunkMissingCrlf", chunked("5\r\nhello0\r\n\r\n")},
    {"chunkExtensionBareLf", chunked("5;a=b\nhello\r\n0\r\n\r\n")},
    {"chunkExtensionCr", chunked("5;a=b\rc\r\nhello\r\n0\r\n\r\n")},
    {"chunkExtensionNul", chunked(std::string("5;a=") + '\0' + "\r\nhello\r\n0\r\n\r\n")},
    {"chunkExtensionHuge", chunked("5;" + std::string(64 * 1024, 'a') + "\r\nhello\r\n0\r\n\r\n")},
    {"lastChunkSmuggledLength", chunked("0;" + std::string(1000, 'x') + "\n\r\n" + kHidden)},
    // Trailers: never forwarded, and bounded like a head (a field over 64 KiB used to abort the
    // process from inside the parser).
    {"trailerFieldHuge",
     chunked("5\r\nhello\r\n0\r\nX-T: " + std::string(70 * 1024, 't') + "\r\n\r\n")},
    {"trailerSectionEndless",
     chunked("5\r\nhello\r\n0\r\n" + repeat("X-T: tttttttttttt\r\n", 4000) + "\r\n")},
    {"lengthInTrailer",
     chunked("5\r\nhello\r\n0\r\nContent-Length: " + length_of(kHidden) + "\r\n\r\n" + kHidden)},
    {"encodingInTrailer",
     chunked("5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n" + kHidden)},
    {"trailerBareLf", chunked("5\r\nhello\r\n0\r\nX-T: a\nX-U: b\r\n\r\n")},
    // Sizes.
    {"oversizeRequestLine", "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\nHost: g\r\n\r\n",
     431},
    {"oversizeHeaders",
     "GET {T} HTTP/1.1\r\nHost: gateway.test\r\n" +
         repeat("X-Big: " + std::string(1000, 'b') + "\r\n", 100) + "\r\n",
     431},
    {"declaredBodyTooLarge", post("Content-Length: 2000000\r\n", "abc"), 413},
};

TEST_F(SmugglingTest, AmbiguousFramingIsRefusedAndClosedAndNeverReachesTheUpstream) {
  for (const Refusal& c : kRefusals) {
    SCOPED_TRACE(c.name);
    HttpConnection connection(gateway_->port());
    connection.send_raw(replace_target(c.request, "/smuggle/" + std::string(c.name)));
    const Response r = connection.read_response();
    EXPECT_EQ(r.result_int(), c.status) << r.body().substr(0, 300);
    EXPECT_EQ(r[boost::beast::http::field::connection], "close");
    EXPECT_TRUE(connection.closed_by_peer(kCloseWait)) << "a second response or an open connection";
  }
  settle("refusals");
  for (const Refusal& c : kRefusals) {
    EXPECT_EQ(echo_requests("/smuggle/" + std::string(c.name) + "$"), 0)
        << c.name << " reached the upstream";
  }
  EXPECT_EQ(echo_requests("/hidden/"), 0) << echo_->process->output();
}

// A framing error found after the body has started streaming to the upstream: the client gets its
// 400 and the upstream connection is dropped mid-body, so the upstream never holds a whole request
// and the connection is never reused for the next one.
TEST_F(SmugglingTest, AFramingErrorMidBodyAbortsTheUpstreamRequest) {
  HttpConnection connection(gateway_->port());
  connection.send_raw(
      "POST /smuggle/late HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string("4000\r\n") + std::string(0x4000, 'a') + "\r\n10\r\n" + std::string(16, 'b') +
      "\r\n");
  // More than one relay piece: the first goes up before the rest arrives. Wait until the upstream
  // has the request.
  echo_->process->wait_for_line("^echo-server request POST /smuggle/late$");
  connection.send_raw("zz\r\n" + kHidden);
  const Response r = connection.read_response();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(connection.closed_by_peer(kCloseWait));

  // The aborted upstream connection is not pooled: had it been, the upstream would read the next
  // request through it as more of the chunked body, and that request would get no answer of its
  // own. Each worker's pool gets a chance to hand it out.
  for (int i = 0; i < 4; ++i) {
    const std::string path = "/after-late-error/" + std::to_string(i);
    EXPECT_EQ(echo_of(http_get(gateway_->port(), path))["path"], path);
  }
  settle("late");
  EXPECT_EQ(echo_requests("/hidden/"), 0);
}

struct Carrier {
  const char* name;
  std::string head;  // request head for {T}, ending with the empty line
  std::string body_on_the_wire;
  std::string body;  // what the upstream must receive as the body
};

// Bodies that contain a whole request: the upstream sees one request with exactly those bytes.
TEST_F(SmugglingTest, ARequestInsideABodyStaysABody) {
  const std::vector<Carrier> carriers = {
      {"contentLength",
       "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: " +
           std::to_string(kHidden.size()) + "\r\n\r\n",
       kHidden, kHidden},
      {"chunked", "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n",
       kHiddenChunk + "0\r\n\r\n", kHidden},
      {"chunkedSplitAcrossChunks",
       "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n",
       "10;name=\"x\"\r\n" + kHidden.substr(0, 16) + "\r\n" + hex(kHidden.size() - 16) + "\r\n" +
           kHidden.substr(16) + "\r\n0\r\nX-Trailer: t\r\n\r\n",
       kHidden},
      // Trailers are read and dropped; Beast unfolds an obs-fold in them (RFC 9112 §5.2 allows
      // that) and none of them reaches the upstream as a header.
      {"trailerWithObsFold",
       "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n",
       "5\r\nhello\r\n0\r\nX-Trailer: a\r\n b\r\nConnection: close\r\n\r\n", "hello"},
      {"namedContentLengthInConnection",
       "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nConnection: Content-Length\r\n"
       "Content-Length: " +
           std::to_string(kHidden.size()) + "\r\n\r\n",
       kHidden, kHidden},
      {"lengthWithOptionalWhitespace",
       "POST {T} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: \t" +
           std::to_string(kHidden.size()) + " \t\r\n\r\n",
       kHidden, kHidden},
      {"getWithBody",
       "GET {T} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: " +
           std::to_string(kHidden.size()) + "\r\n\r\n",
       kHidden, kHidden},
      {"http10ContentLength",
       "POST {T} HTTP/1.0\r\nHost: gateway.test\r\nContent-Length: " +
           std::to_string(kHidden.size()) + "\r\n\r\n",
       kHidden, kHidden},
  };
  for (const Carrier& c : carriers) {
    SCOPED_TRACE(c.name);
    const std::string target = "/carrier/" + std::string(c.name);
    HttpConnection connection(gateway_->port());
    connection.send_raw(replace_target(c.head, target) + c.body_on_the_wire);
    const json echo = echo_of(connection.read_response());
    EXPECT_EQ(echo["path"], target);
    EXPECT_EQ(echo["body_size"], c.body.size());
    EXPECT_EQ(echo["body_sha256"], to_hex(sha256(c.body)));
    EXPECT_FALSE(echo["headers"].contains("transfer-encoding") &&
                 echo["headers"].contains("content-length"));
    EXPECT_FALSE(echo["headers"].contains("x-trailer"));
  }
  settle("carriers");
  for (const Carrier& c : carriers) {
    EXPECT_EQ(echo_requests("/carrier/" + std::string(c.name) + "$"), 1) << c.name;
  }
  EXPECT_EQ(echo_requests("/hidden/"), 0) << echo_->process->output();
}

// What follows a complete request on the same connection is the client's next request: it is
// answered in order, after the first, as the client sent it.
TEST_F(SmugglingTest, BytesAfterTheBodyAreTheNextRequest) {
  HttpConnection connection(gateway_->port());
  connection.send_raw(
      "POST /pipelined/first HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"
      "GET /pipelined/second HTTP/1.1\r\nHost: gateway.test\r\n\r\n");
  const json first = echo_of(connection.read_response());
  EXPECT_EQ(first["path"], "/pipelined/first");
  EXPECT_EQ(first["body_size"], 5);
  EXPECT_EQ(echo_of(connection.read_response())["path"], "/pipelined/second");
}

// Upgrade is hop-by-hop: an h2c or WebSocket upgrade never reaches the upstream, which could
// otherwise switch protocols on a pooled connection the gateway still treats as HTTP/1.1.
TEST_F(SmugglingTest, UpgradeRequestsAreForwardedAsPlainRequests) {
  HttpConnection connection(gateway_->port());
  connection.send_raw(
      "GET /upgrade HTTP/1.1\r\nHost: gateway.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
  const json echo = echo_of(connection.read_response());
  EXPECT_FALSE(echo["headers"].contains("upgrade"));
  EXPECT_FALSE(echo["headers"].contains("http2-settings"));
  EXPECT_FALSE(echo["headers"].contains("connection"));
}

}  // namespace
}  // namespace tollgate::test
