// Every answer reaches only the request it belongs to, whatever the upstream or the identity
// provider sends: a pooled connection is reused only after a response read whole by its own
// framing, with nothing else received. Scripted peers send what a sound server never would (a body
// after 204, 304 or HEAD, bytes past Content-Length or after the response, interim 1xx heads); the
// next, unrelated request must still get its own answer, and no side-effecting request is sent
// twice. Also the HTTP/1.0 client side: no chunked framing, no 100 Continue.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "pki.hpp"
#include "scripted_peer.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;

// One worker: every request shares the same pool, so a connection left dirty is taken next.
std::string one_worker_config(const std::string& upstreams_routes_plugins) {
  return basic_config(upstreams_routes_plugins, "timeouts: { upstream_read: 5s }\n", 1);
}

// A complete response that names `marker`: what another request would wrongly receive.
std::string stray_response(const std::string& marker) {
  return peer_response("marker:" + marker);
}

// The upstream answers /first with `first` and every other path with "marker:<path>".
class UpstreamReuseTest : public ::testing::Test {
 protected:
  // `tls`: the upstream speaks TLS (the gateway verifies it against a test CA).
  void start(std::function<PeerReply(const PeerRequest&)> first, bool tls = false) {
    first_ = std::move(first);
    auto script = [this](const PeerRequest& request) {
      if (request.target == "/first") return first_(request);
      PeerReply reply;
      reply.pieces = {peer_response("marker:" + request.target)};
      return reply;
    };
    std::string ca_file;
    if (tls) {
      pki_ = std::make_unique<TestPki>(dir_);
      peer_ = std::make_unique<ScriptedPeer>(script, pki_->cert, pki_->key);
      ca_file = ", ca_file: " + pki_->ca;
    } else {
      peer_ = std::make_unique<ScriptedPeer>(script);
    }
    gateway_ = start_tollgate(
        one_worker_config("upstreams:\n"
                          "  peer: { targets: [ " +
                          peer_->url() + " ]" + ca_file +
                          " }\n"
                          "routes:\n"
                          "  - { name: all, match: { paths: [ / ] }, upstream: peer }\n"));
  }

  // Another client's request, on its own connection: it must get its own answer. Each is sent once
  // the gateway's side has every byte the peer wrote, so stray bytes are there to be seen.
  void expect_own_answers() {
    for (const std::string path : {"/second", "/third"}) {
      ASSERT_TRUE(peer_->settle());
      const Response r = http_get(gateway_.port(), path);
      EXPECT_EQ(r.body(), "marker:" + path) << "status " << r.result_int();
    }
  }

  std::function<PeerReply(const PeerRequest&)> first_;
  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<ScriptedPeer> peer_;
  Tollgate gateway_;
};

PeerReply answer_then(const std::string& head_and_body, const std::string& extra) {
  PeerReply reply;
  reply.pieces = {head_and_body + extra};
  return reply;
}

// The same in two writes: over TLS the extra bytes travel in a record of their own.
PeerReply answer_then_separately(const std::string& head_and_body, const std::string& extra) {
  PeerReply reply;
  reply.pieces = {head_and_body, extra};
  return reply;
}

TEST_F(UpstreamReuseTest, BodyAfter204IsNotTakenForTheNextResponse) {
  start([](const PeerRequest&) {
    return answer_then("HTTP/1.1 204 No Content\r\n\r\n", stray_response("after-204"));
  });
  EXPECT_EQ(http_get(gateway_.port(), "/first").result_int(), 204);
  expect_own_answers();
}

TEST_F(UpstreamReuseTest, BodyAfter304IsNotTakenForTheNextResponse) {
  start([](const PeerRequest&) {
    return answer_then("HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n",
                       stray_response("after-304"));
  });
  EXPECT_EQ(http_get(gateway_.port(), "/first").result_int(), 304);
  expect_own_answers();
}

TEST_F(UpstreamReuseTest, BodyOnAHeadResponseIsNotTakenForTheNextResponse) {
  const std::string stray = stray_response("after-head");
  start([stray](const PeerRequest&) {
    return answer_then(
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(stray.size()) + "\r\n\r\n", stray);
  });
  HttpConnection client(gateway_.port());
  client.send_raw("HEAD /first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.read_response(/*head=*/true).result_int(), 200);
  expect_own_answers();
}

TEST_F(UpstreamReuseTest, BytesBeyondContentLengthAreNotTakenForTheNextResponse) {
  start([](const PeerRequest&) {
    return answer_then("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                       stray_response("beyond-length"));
  });
  EXPECT_EQ(http_get(gateway_.port(), "/first").body(), "hello");
  expect_own_answers();
}

TEST_F(UpstreamReuseTest, BytesWrittenRightAfterACompleteResponseAreNotTakenForTheNext) {
  start([](const PeerRequest&) {
    return answer_then_separately(peer_response("marker:/first"), stray_response("right-after"));
  });
  EXPECT_EQ(http_get(gateway_.port(), "/first").body(), "marker:/first");
  expect_own_answers();
}

// Over TLS, bytes sent after the answer in their own record may already sit in the TLS layer, where
// no peek at the socket sees them.
TEST_F(UpstreamReuseTest, TlsBytesAfterACompleteResponseAreNotTakenForTheNext) {
  start(
      [](const PeerRequest&) {
        return answer_then_separately(peer_response("marker:/first"),
                                      stray_response("tls-right-after"));
      },
      /*tls=*/true);
  EXPECT_EQ(http_get(gateway_.port(), "/first").body(), "marker:/first");
  expect_own_answers();
}

TEST_F(UpstreamReuseTest, TlsBodyAfter204IsNotTakenForTheNextResponse) {
  start(
      [](const PeerRequest&) {
        return answer_then_separately("HTTP/1.1 204 No Content\r\n\r\n",
                                      stray_response("tls-after-204"));
      },
      /*tls=*/true);
  EXPECT_EQ(http_get(gateway_.port(), "/first").result_int(), 204);
  expect_own_answers();
}

// The stray bytes arrive while the connection sits idle in the pool: the peer sends them once the
// first client has its answer, and the gateway's side has them before the next request.
TEST_F(UpstreamReuseTest, BytesArrivingOnAnIdleConnectionAreNotTakenForTheNext) {
  start([](const PeerRequest&) {
    PeerReply reply;
    reply.pieces = {peer_response("marker:/first")};
    reply.late = stray_response("while-idle");
    return reply;
  });
  EXPECT_EQ(http_get(gateway_.port(), "/first").body(), "marker:/first");
  ASSERT_TRUE(peer_->flush_late());
  expect_own_answers();
}

// RFC 9110 §9.2.2: a request whose method is not idempotent is never sent twice, not even when the
// connection it went out on closes without a byte of answer (the upstream may have acted on it).
TEST_F(UpstreamReuseTest, NonIdempotentRequestOnAClosedReusedConnectionIsNotSentAgain) {
  start([](const PeerRequest&) {
    PeerReply reply;
    reply.ending = PeerReply::Ending::close;  // no answer
    return reply;
  });
  for (const char* method : {"POST", "PATCH", "DELETE"}) {
    SCOPED_TRACE(method);
    // Leaves one clean connection in the pool for the request below to reuse.
    ASSERT_EQ(http_get(gateway_.port(), std::string("/warm-") + method).body(),
              std::string("marker:/warm-") + method);
    const int before = static_cast<int>(peer_->requests().size());
    const std::string raw = raw_exchange(
        gateway_.port(),
        std::string(method) + " /first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(raw), 502) << raw;
    const auto requests = peer_->requests();
    EXPECT_EQ(static_cast<int>(requests.size()) - before, 1) << "sent twice";
    EXPECT_NE(requests.back().connection, 0);
  }
  expect_own_answers();
}

// A safe method is retried once on a new connection when the reused one closes unanswered.
TEST_F(UpstreamReuseTest, SafeRequestOnAClosedReusedConnectionIsRetriedOnce) {
  auto first_calls = std::make_shared<std::atomic<int>>(0);  // counted on the peer's thread
  start([first_calls](const PeerRequest&) {
    PeerReply reply;
    if (++*first_calls == 1) {
      reply.ending = PeerReply::Ending::close;
    } else {
      reply.pieces = {peer_response("marker:/first")};
    }
    return reply;
  });
  ASSERT_EQ(http_get(gateway_.port(), "/warm").body(), "marker:/warm");
  EXPECT_EQ(http_get(gateway_.port(), "/first").body(), "marker:/first");
  EXPECT_EQ(first_calls->load(), 2);
}

// --- HTTP/1.0 clients ---

std::string body_of(const std::string& raw) {
  const std::size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : raw.substr(end + 4);
}

TEST_F(UpstreamReuseTest, Http10ClientGetsAChunkedAnswerDelimitedByTheClose) {
  start([](const PeerRequest&) {
    PeerReply reply;
    reply.pieces = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                    "6\r\n world\r\n0\r\n\r\n"};
    return reply;
  });
  const std::string raw = raw_exchange(gateway_.port(), "GET /first HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(raw), 200) << raw;
  EXPECT_EQ(raw.find("chunked"), std::string::npos) << raw;
  EXPECT_EQ(body_of(raw), "hello world") << raw;
}

TEST_F(UpstreamReuseTest, Http10ClientNeverGets100Continue) {
  start([](const PeerRequest& request) {
    PeerReply reply;
    reply.pieces = {peer_response("got:" + request.body)};
    return reply;
  });
  HttpConnection client(gateway_.port());
  client.send_raw(
      "POST /first HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  // The gateway either waits for the body or says 100 Continue: the body then goes, and the first
  // thing read must be the final answer.
  client.send_raw("data");
  const Response r = client.read_response();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "got:data");
}

// An answer delimited by the upstream's close reaches the client exactly once, whatever framing
// the client gets: chunked for HTTP/1.1 (the connection stays usable), the close for HTTP/1.0.
TEST_F(UpstreamReuseTest, CloseDelimitedAnswerIsRelayedExactlyOnce) {
  std::string payload;
  for (int i = 0; payload.size() < 40'000; ++i) payload += "piece-" + std::to_string(i) + ";";
  start([payload](const PeerRequest&) {
    PeerReply reply;
    reply.pieces = {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + payload.substr(0, 100),
                    payload.substr(100, 20'000), payload.substr(20'100)};
    reply.ending = PeerReply::Ending::close;
    return reply;
  });
  HttpConnection client(gateway_.port());
  const Response r = client.get("/first");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body() == payload) << r.body().size() << " bytes, " << payload.size() << " sent";
  EXPECT_EQ(client.get("/after").body(), "marker:/after") << "stray bytes on the client connection";

  const std::string raw = raw_exchange(gateway_.port(), "GET /first HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(raw.find("chunked"), std::string::npos);
  EXPECT_TRUE(body_of(raw) == payload) << body_of(raw).size() << " bytes";
}

// --- The identity provider ---

// An RFC 7662 IdP: token "alice-token" is alice's, every other token is inactive. Each answer is
// shaped by `shape` (interim heads before it, bytes after it).
class IdpReuseTest : public ::testing::Test {
 protected:
  void start(std::function<std::vector<std::string>(const std::string& answer)> shape) {
    shape_ = std::move(shape);
    idp_ = std::make_unique<ScriptedPeer>([this](const PeerRequest& request) {
      const bool alice = request.body.find("token=alice-token") != std::string::npos;
      const std::string answer =
          peer_response(alice ? R"({"active":true,"sub":"alice"})" : R"({"active":false})", 200,
                        "Content-Type: application/json\r\n");
      PeerReply reply;
      reply.pieces = shape_(answer);
      return reply;
    });
    upstream_ = std::make_unique<ScriptedPeer>([](const PeerRequest& request) {
      PeerReply reply;
      reply.pieces = {peer_response("marker:" + request.target)};
      return reply;
    });
    gateway_ = start_tollgate(one_worker_config(
        "upstreams:\n"
        "  peer: { targets: [ " +
        upstream_->url() +
        " ] }\n"
        "plugins:\n" +
        openid_connect_plugin("idp", "introspection_endpoint: " + idp_->url() + "/introspect",
                              "      auth_methods: [ introspection ]\n"
                              "      timeout: 2s\n"
                              "      cache_introspection: false\n") +
        "routes:\n"
        "  - { name: all, match: { paths: [ / ] }, upstream: peer, plugins: [ idp ] }\n"));
  }

  // Sent once the gateway's side has every byte the IdP wrote, so stray bytes are there to be seen.
  int call(const std::string& token) {
    EXPECT_TRUE(idp_->settle());
    return http_get(gateway_.port(), "/api", {{"Authorization", "Bearer " + token}}).result_int();
  }

  // Alice first, then tokens nobody issued: they must never pass as alice.
  void expect_each_token_gets_its_own_answer() {
    EXPECT_EQ(call("alice-token"), 200);
    for (int i = 0; i < 3; ++i) {
      const int status = call("garbage-" + std::to_string(i));
      EXPECT_TRUE(status == 401 || status == 503) << "garbage token got " << status;
    }
    EXPECT_EQ(call("alice-token"), 200);
    EXPECT_EQ(upstream_->requests().size(), 2u) << "a request passed on another token's answer";
  }

  std::function<std::vector<std::string>(const std::string&)> shape_;
  std::unique_ptr<ScriptedPeer> idp_;
  std::unique_ptr<ScriptedPeer> upstream_;
  Tollgate gateway_;
};

TEST_F(IdpReuseTest, EarlyHintsBeforeEachAnswerAreSkipped) {
  start([](const std::string& answer) {
    return std::vector<std::string>{"HTTP/1.1 103 Early Hints\r\n\r\n" + answer};
  });
  expect_each_token_gets_its_own_answer();
}

TEST_F(IdpReuseTest, SeveralInterimHeadsSplitAcrossWritesAreSkipped) {
  start([](const std::string& answer) {
    return std::vector<std::string>{"HTTP/1.1 100 Con", "tinue\r\n\r\nHTTP/1.1 102 Processing\r\n",
                                    "\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", answer};
  });
  expect_each_token_gets_its_own_answer();
}

TEST_F(IdpReuseTest, BytesBeyondTheAnswerAreNotTakenForTheNextAnswer) {
  start([](const std::string& answer) {
    return std::vector<std::string>{answer + peer_response(R"({"active":true,"sub":"alice"})", 200,
                                                           "Content-Type: application/json\r\n")};
  });
  expect_each_token_gets_its_own_answer();
}

}  // namespace
}  // namespace tollgate::test
