// The real IntrospectionClient against a real HTTP server on 127.0.0.1: what goes on the wire, how
// every kind of answer is read, timeouts, keep-alive, the stale-connection retry and discovery.
#include "tollgate/oidc/introspection_client.hpp"

#include <map>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "canned_http_server.hpp"
#include "oidc/discovery.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::oidc {
namespace {

using testing::CannedHttpServer;
using testing::CannedResponse;
using Request = CannedHttpServer::Request;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

// The form fields of a request body, decoded; fails the test on a malformed body.
std::map<std::string, std::string> form_fields(const std::string& body) {
  auto decode = [](std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += text[i] == '+' ? ' ' : text[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t equals = pair.find('=');
    EXPECT_NE(equals, std::string_view::npos) << body;
    EXPECT_TRUE(
        fields.emplace(decode(pair.substr(0, equals)), decode(pair.substr(equals + 1))).second)
        << "repeated field in " << body;
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  return fields;
}

CannedResponse json_answer(std::string body) {
  CannedResponse response;
  response.body = std::move(body);
  response.headers.emplace_back("Content-Type", "application/json");
  return response;
}

class IntrospectionClientTest : public ::testing::Test {
 protected:
  ClientSettings settings;
  boost::asio::io_context io;

  IntrospectionClientTest() {
    settings.client_id = "my client:1";
    settings.client_secret = "p@ss/w\xc3\xb6rd&=";
    settings.timeout = seconds(5);
  }

  std::shared_ptr<HttpIntrospectionClient> start_client(const std::string& endpoint) {
    settings.endpoint = endpoint;
    auto client = HttpIntrospectionClient::create(settings, nullptr, "test");
    client->start(filters::StartContext{{io.get_executor()}});
    return client;
  }

  IntrospectionResult introspect(HttpIntrospectionClient& client, std::string token,
                                 const http_io::TraceContext& trace = {}) {
    std::optional<IntrospectionResult> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          out.emplace(co_await client.introspect(token, 0, trace));
        },
        boost::asio::detached);
    // Until the answer, not until the loop runs dry: a pooled connection's idle watch keeps it
    // busy.
    io.restart();
    while (!out && io.run_one() > 0) {
    }
    return std::move(*out);
  }

  // Runs the client's event loop until `done()` or 10 s pass.
  template <class Done>
  bool run_until(Done done) {
    const auto deadline = SteadyClock::now() + seconds(10);
    io.restart();
    while (!done() && SteadyClock::now() < deadline) io.run_one_for(milliseconds(20));
    return done();
  }
};

TEST_F(IntrospectionClientTest, BasicAuthSendsOneCredentialInTheHeaderOnly) {
  CannedHttpServer server([](const Request&) { return json_answer(R"({"active":true})"); });
  auto client = start_client(server.base_url() + "/oauth2/default/v1/introspect?x=1");
  ASSERT_TRUE(introspect(*client, "abc+/=").has_value());

  ASSERT_EQ(server.request_count(), 1u);
  const Request request = server.requests().front();
  EXPECT_EQ(request.method(), boost::beast::http::verb::post);
  EXPECT_EQ(request.target(), "/oauth2/default/v1/introspect?x=1");
  EXPECT_EQ(request[boost::beast::http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(request[boost::beast::http::field::content_type], "application/x-www-form-urlencoded");
  EXPECT_EQ(request[boost::beast::http::field::accept], "application/json");
  EXPECT_EQ(request[boost::beast::http::field::authorization],
            "Basic " + base64_encode("my%20client%3A1:p%40ss%2Fw%C3%B6rd%26%3D"));
  EXPECT_EQ(request.body(), "token=abc%2B%2F%3D&token_type_hint=access_token");
  const auto fields = form_fields(request.body());
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"token", "abc+/="},
                                                        {"token_type_hint", "access_token"}}));
}

TEST_F(IntrospectionClientTest, PostAuthSendsOneCredentialInTheBodyOnly) {
  settings.auth_method = ClientAuthMethod::client_secret_post;
  settings.token_type_hint.clear();
  CannedHttpServer server([](const Request&) { return json_answer(R"({"active":true})"); });
  auto client = start_client(server.base_url() + "/introspect");
  ASSERT_TRUE(introspect(*client, "tok").has_value());

  const Request request = server.requests().front();
  EXPECT_EQ(request.count(boost::beast::http::field::authorization), 0u);
  EXPECT_EQ(form_fields(request.body()),
            (std::map<std::string, std::string>{{"token", "tok"},
                                                {"client_id", "my client:1"},
                                                {"client_secret", "p@ss/w\xc3\xb6rd&="}}));
}

TEST_F(IntrospectionClientTest, ExtraHeadersAndArgumentsAreSent) {
  settings.extra_headers = {{"X-Tenant", "acme"}};
  settings.extra_post_args = {{"resource", "api://orders x"}};
  CannedHttpServer server([](const Request&) { return json_answer(R"({"active":true})"); });
  auto client = start_client(server.base_url() + "/introspect");
  ASSERT_TRUE(introspect(*client, "tok").has_value());
  const Request request = server.requests().front();
  EXPECT_EQ(request["X-Tenant"], "acme");
  EXPECT_EQ(form_fields(request.body()).at("resource"), "api://orders x");
}

TEST_F(IntrospectionClientTest, TheCallCarriesTheTraceItIsGiven) {
  CannedHttpServer server([](const Request&) { return json_answer(R"({"active":true})"); });
  auto client = start_client(server.base_url() + "/introspect");
  boost::beast::http::fields incoming;
  incoming.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  incoming.set("tracestate", "congo=t61rcWkgMzE");
  IdRandom random(7);
  const auto trace = http_io::TraceContext::start_span(incoming, random);
  ASSERT_TRUE(introspect(*client, "tok", trace).has_value());
  ASSERT_TRUE(introspect(*client, "tok").has_value());

  ASSERT_EQ(server.request_count(), 2u);
  const Request traced = server.requests().front();
  EXPECT_EQ(traced["traceparent"], trace.traceparent());
  EXPECT_EQ(traced["tracestate"], "congo=t61rcWkgMzE");
  const Request untraced = server.requests().back();
  EXPECT_EQ(untraced.count("traceparent"), 0u);
  EXPECT_EQ(untraced.count("tracestate"), 0u);
}

TEST_F(IntrospectionClientTest, ActiveAndInactiveAnswers) {
  CannedHttpServer server([](const Request& request) {
    return json_answer(form_fields(request.body()).at("token") == "good"
                           ? R"({"active":true,"sub":"alice","scope":"a b"})"
                           : R"({"active":false})");
  });
  auto client = start_client(server.base_url() + "/introspect");
  IntrospectionResult good = introspect(*client, "good");
  ASSERT_TRUE(good.has_value());
  EXPECT_TRUE((*good)->active);
  EXPECT_EQ((*good)->claims.find("sub").string(), "alice");
  EXPECT_EQ((*good)->claims.to_json(),
            nlohmann::json::parse(R"({"active":true,"sub":"alice","scope":"a b"})"));
  IntrospectionResult bad = introspect(*client, "bad");
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE((*bad)->active);
}

struct FailureCase {
  const char* name;
  CannedResponse response;
  IdpFailureKind kind;
  unsigned status;
  std::optional<seconds> retry_after;
};

class IntrospectionFailureTest : public IntrospectionClientTest,
                                 public ::testing::WithParamInterface<FailureCase> {};

TEST_P(IntrospectionFailureTest, IsAnIdpFailureNeverAnAnswer) {
  const FailureCase& c = GetParam();
  CannedHttpServer server([&c](const Request&) { return c.response; });
  auto client = start_client(server.base_url() + "/introspect");
  IntrospectionResult result = introspect(*client, "tok");
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, c.kind);
  EXPECT_EQ(result.error().http_status, c.status);
  EXPECT_EQ(result.error().retry_after, c.retry_after);
}

CannedResponse status(unsigned code, std::string body = "{}",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  CannedResponse response;
  response.status = code;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

INSTANTIATE_TEST_SUITE_P(
    IdpAnswers, IntrospectionFailureTest,
    ::testing::Values(
        FailureCase{"InvalidClient", status(401, R"({"error":"invalid_client"})"),
                    IdpFailureKind::http_status, 401, std::nullopt},
        FailureCase{"RateLimited", status(429, "", {{"Retry-After", "7"}}),
                    IdpFailureKind::http_status, 429, seconds(7)},
        FailureCase{"ServerError", status(503, R"({"active":true})"), IdpFailureKind::http_status,
                    503, std::nullopt},
        FailureCase{"Html", json_answer("<html>oops</html>"), IdpFailureKind::bad_response, 0,
                    std::nullopt},
        FailureCase{"Array", json_answer("[true]"), IdpFailureKind::bad_response, 0, std::nullopt},
        FailureCase{"NoActive", json_answer(R"({"sub":"alice"})"), IdpFailureKind::bad_response, 0,
                    std::nullopt},
        FailureCase{"ActiveString", json_answer(R"({"active":"true"})"),
                    IdpFailureKind::bad_response, 0, std::nullopt},
        FailureCase{"ActiveNull", json_answer(R"({"active":null})"), IdpFailureKind::bad_response,
                    0, std::nullopt},
        FailureCase{"Empty", json_answer(""), IdpFailureKind::bad_response, 0, std::nullopt},
        FailureCase{"ClosedWithoutAnswer", CannedResponse{.close_unanswered = true},
                    IdpFailureKind::io, 0, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(IntrospectionClientTest, SilentIdpTimesOutWithinTheTimeout) {
  settings.timeout = milliseconds(300);
  CannedHttpServer server([](const Request&) { return CannedResponse{.never_answer = true}; });
  auto client = start_client(server.base_url() + "/introspect");
  const auto started = SteadyClock::now();
  IntrospectionResult result = introspect(*client, "tok");
  const auto elapsed = SteadyClock::now() - started;
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::timeout);
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, seconds(2));
}

TEST_F(IntrospectionClientTest, UnreachableIdpIsAConnectFailure) {
  unsigned short closed_port = 0;
  {
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  auto client = start_client("http://127.0.0.1:" + std::to_string(closed_port) + "/introspect");
  IntrospectionResult result = introspect(*client, "tok");
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::connect);
}

TEST_F(IntrospectionClientTest, KeepAliveReusesOneConnection) {
  CannedHttpServer server([](const Request&) { return json_answer(R"({"active":true})"); });
  auto client = start_client(server.base_url() + "/introspect");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(introspect(*client, "tok").has_value());
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.request_count(), 3u);
}

TEST_F(IntrospectionClientTest, StalePooledConnectionIsRetriedOnceOnANewOne) {
  // The server closes each connection after one answer although both sides agreed to keep it:
  // the second call finds its pooled connection dead before any response byte, and retries.
  CannedHttpServer server([](const Request&) {
    CannedResponse response = json_answer(R"({"active":true})");
    response.close_after = true;
    return response;
  });
  auto client = start_client(server.base_url() + "/introspect");
  ASSERT_TRUE(introspect(*client, "tok").has_value());
  IntrospectionResult second = introspect(*client, "tok");
  ASSERT_TRUE(second.has_value()) << second.error().describe();
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(IntrospectionClientTest, FreshConnectionFailureIsNotRetried) {
  CannedHttpServer server([](const Request&) { return CannedResponse{.close_unanswered = true}; });
  auto client = start_client(server.base_url() + "/introspect");
  ASSERT_TRUE(introspect(*client, "tok").has_error());
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(IntrospectionClientTest, NotReadyBeforeStart) {
  settings.endpoint = "http://127.0.0.1:9/introspect";
  auto client = HttpIntrospectionClient::create(settings, nullptr, "test");
  EXPECT_FALSE(client->ready());
  IntrospectionResult result = introspect(*client, "tok");
  ASSERT_TRUE(result.has_error());
  EXPECT_EQ(result.error().kind, IdpFailureKind::not_ready);
}

// An IdP whose metadata lives at `metadata_path` and whose introspection answers "active".
class DiscoveringIdp {
 public:
  explicit DiscoveringIdp(std::string metadata_path, std::string issuer_override = {})
      : server_([this](const Request& request) { return answer(request); }),
        metadata_path_(std::move(metadata_path)),
        issuer_override_(std::move(issuer_override)) {}

  std::string issuer() const { return server_.base_url() + "/oauth2/default"; }
  CannedHttpServer& server() { return server_; }
  std::atomic<int> failures_left{0};

 private:
  CannedResponse answer(const Request& request) {
    const std::string target(request.target());
    if (target == "/oauth2/default/v1/introspect") return json_answer(R"({"active":true})");
    if (target != metadata_path_) return status(404);
    if (failures_left > 0) {
      --failures_left;
      return status(503);
    }
    return json_answer(R"({"issuer":")" + (issuer_override_.empty() ? issuer() : issuer_override_) +
                       R"(","introspection_endpoint":")" + issuer() + R"(/v1/introspect"})");
  }

  CannedHttpServer server_;
  std::string metadata_path_;
  std::string issuer_override_;
};

TEST_F(IntrospectionClientTest, DiscoversTheEndpointInTheBackground) {
  DiscoveringIdp idp("/oauth2/default/.well-known/openid-configuration");
  settings.issuer = idp.issuer();
  auto client = start_client("");
  EXPECT_FALSE(client->ready());
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  ASSERT_TRUE(introspect(*client, "tok").has_value());
  const auto requests = idp.server().requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method(), boost::beast::http::verb::get);
  EXPECT_EQ(requests[0][boost::beast::http::field::accept], "application/json");
  EXPECT_EQ(requests[1].target(), "/oauth2/default/v1/introspect");
}

TEST_F(IntrospectionClientTest, FallsBackToAuthorizationServerMetadata) {
  DiscoveringIdp idp("/oauth2/default/.well-known/oauth-authorization-server");
  settings.issuer = idp.issuer() + "/";
  auto client = start_client("");
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  ASSERT_TRUE(introspect(*client, "tok").has_value());
}

TEST_F(IntrospectionClientTest, DiscoveryRetriesUntilTheIdpAnswers) {
  DiscoveringIdp idp("/oauth2/default/.well-known/openid-configuration");
  idp.failures_left = 1;
  settings.issuer = idp.issuer();
  auto client = start_client("");
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  // Round one: 503 and 404; after the backoff, round two succeeds at once.
  EXPECT_EQ(idp.server().request_count(), 3u);
}

TEST_F(IntrospectionClientTest, MetadataOfAnotherIssuerIsRefusedAndStopEndsTheRetries) {
  DiscoveringIdp idp("/oauth2/default/.well-known/openid-configuration", "https://evil.example");
  settings.issuer = idp.issuer();
  auto client = start_client("");
  ASSERT_TRUE(run_until([&] { return idp.server().request_count() >= 2; }));
  EXPECT_FALSE(client->ready());
  client->stop();
  io.restart();
  io.run_for(seconds(5));
  EXPECT_TRUE(io.stopped()) << "discovery kept running after stop()";
  EXPECT_FALSE(client->ready());
}

TEST(EndpointTest, ParsesWhatARequestNeeds) {
  auto endpoint = parse_endpoint("https://idp.example/oauth2/v1/introspect?a=b");
  ASSERT_TRUE(endpoint);
  EXPECT_TRUE(endpoint->origin.tls);
  EXPECT_EQ(endpoint->origin.host, "idp.example");
  EXPECT_EQ(endpoint->origin.port, 443);
  EXPECT_EQ(endpoint->target, "/oauth2/v1/introspect?a=b");
  EXPECT_EQ(endpoint->host_header, "idp.example");

  endpoint = parse_endpoint("http://[::1]:8080");
  ASSERT_TRUE(endpoint);
  EXPECT_FALSE(endpoint->origin.tls);
  EXPECT_EQ(endpoint->origin.host, "::1");
  EXPECT_EQ(endpoint->origin.port, 8080);
  EXPECT_EQ(endpoint->target, "/");
  EXPECT_EQ(endpoint->host_header, "[::1]:8080");

  for (const char* bad : {"idp.example/x", "ftp://idp/x", "https://user:pw@idp/x", "https:///x",
                          "https://idp/x#frag", "https://idp:0/x", ""}) {
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
  }
}

TEST(FormUrlencodeTest, OnlyUnreservedCharactersStayAsTheyAre) {
  EXPECT_EQ(form_urlencode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(form_urlencode("a b+c/d=e&f%:"), "a%20b%2Bc%2Fd%3De%26f%25%3A");
  EXPECT_EQ(form_urlencode("\xc3\xb6"), "%C3%B6");
}

TEST(DiscoveryTest, WellKnownLocations) {
  EXPECT_EQ(discovery_urls("https://idp.example/oauth2/default/"),
            (std::vector<std::string>{
                "https://idp.example/oauth2/default/.well-known/openid-configuration",
                "https://idp.example/oauth2/default/.well-known/oauth-authorization-server"}));
}

TEST(DiscoveryTest, MetadataIsCheckedBeforeItIsTrusted) {
  const std::string issuer = "https://idp.example/oauth2/default";
  auto ok = endpoint_from_metadata(
      R"({"issuer":"https://idp.example/oauth2/default/","introspection_endpoint":)"
      R"("https://idp.example/oauth2/default/v1/introspect"})",
      issuer);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->target, "/oauth2/default/v1/introspect");

  EXPECT_FALSE(endpoint_from_metadata("not json", issuer));
  EXPECT_FALSE(endpoint_from_metadata(
      R"({"issuer":"https://evil.example","introspection_endpoint":"https://evil.example/i"})",
      issuer));
  EXPECT_FALSE(
      endpoint_from_metadata(R"({"issuer":"https://idp.example/oauth2/default"})", issuer));
  EXPECT_FALSE(endpoint_from_metadata(
      R"({"issuer":"https://idp.example/oauth2/default","introspection_endpoint":"/relative"})",
      issuer));
  EXPECT_FALSE(endpoint_from_metadata(
      R"({"issuer":"https://idp.example/oauth2/default",)"
      R"("introspection_endpoint":"http://idp.example/oauth2/default/v1/introspect"})",
      issuer));
}

TEST(ResponseParsingTest, RetryAfterFormats) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), seconds(120));
  EXPECT_EQ(parse_retry_after(" 5 ", now), seconds(5));
  EXPECT_EQ(parse_retry_after("99999999", now), seconds(3600));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), seconds(30));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", now), seconds(0));
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
}

// Found by fuzzing: a date far in the past or future overflowed the nanosecond time point it was
// turned into (undefined behaviour, and a garbage delay).
TEST(ResponseParsingTest, RetryAfterDatesOutsideTheClockRangeAreClamped) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 0202 07:28:00 GMT", now), seconds(0));
  EXPECT_EQ(parse_retry_after("Sun, 01 Jan 1000 00:00:00 GMT", now), seconds(0));
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), seconds(3600));
}

// An answer nested far deeper than any IdP nests claims is refused before anything recurses over
// it: serialising a 20,000-level claim for an upstream header overflowed the stack.
TEST(ResponseParsingTest, DeeplyNestedAnswerIsABadResponse) {
  const auto nested = [](int depth) {
    return R"({"active":true,"sub":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  const auto now = std::chrono::system_clock::now();
  const auto deep = parse_introspection_response(200, "", nested(20'000), now);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().kind, IdpFailureKind::bad_response);
  EXPECT_FALSE(parse_introspection_response(200, "", nested(40), now));
  EXPECT_TRUE(parse_introspection_response(200, "", nested(30), now));
}

// The limit is the same whichever reader takes the answer: the direct one for the usual shape, or
// nlohmann for one holding a fraction.
TEST(ResponseParsingTest, NestingLimitIsThirtyTwoLevelsOnEitherReader) {
  const auto nested = [](int levels, std::string_view leaf) {  // levels counts the outer object
    return R"({"active":true,"sub":)" + std::string(levels - 1, '[') + std::string(leaf) +
           std::string(levels - 1, ']') + "}";
  };
  const auto now = std::chrono::system_clock::now();
  for (const std::string_view leaf : {"1", "1.5"}) {
    SCOPED_TRACE(leaf);
    EXPECT_TRUE(parse_introspection_response(200, "", nested(32, leaf), now));
    const auto deep = parse_introspection_response(200, "", nested(33, leaf), now);
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().kind, IdpFailureKind::bad_response);
  }
}

// Found by fuzzing: a delta-seconds value between INT64_MAX and UINT64_MAX fits the parser's
// uint64 but wrapped to a negative duration, which clients then got as a negative Retry-After.
TEST(ResponseParsingTest, RetryAfterAboveInt64IsCappedNotNegative) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("10010088210260344831", now), seconds(3600));
  EXPECT_EQ(parse_retry_after("9223372036854775808", now), seconds(3600));
  EXPECT_EQ(parse_retry_after("18446744073709551615", now), seconds(3600));
}

}  // namespace
}  // namespace tollgate::oidc
