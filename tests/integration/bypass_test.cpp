// Attempts to reach a protected upstream without a valid token: path tricks, host tricks and
// malformed credentials. Real processes: tollgate, the dev IdP, and two echo upstreams that log
// every request head they receive, one behind the protected routes and one behind the public route.
// Each case asserts the documented status AND that the protected echo saw exactly the requests it
// should have (none, unless the case carries a valid token).
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"
#include "suite_setup.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

constexpr std::string_view kTokenPlaceholder = "{TOKEN}";
constexpr std::string_view kWeakTokenPlaceholder = "{WEAK}";  // a valid token without orders:read
constexpr const char* kEchoRequestLine = "^echo-server request ";

std::string plugin_config(const DevIdp& idp) {
  return "plugins:\n" + openid_connect_plugin("oidc", "issuer: " + idp.issuer(),
                                              "      timeout: 2s\n"
                                              "      cache_ttl: 300s\n"
                                              "      scopes_required: [ \"orders:read\" ]\n"
                                              "      bearer_token_param_type: [ header, query ]\n");
}

// One protected upstream, one public, and the gateway in front: shared by every test of a suite
// (starting processes is the slow part; each case measures its own effect).
struct Environment {
  DevIdp idp;
  EchoServer protected_echo;
  EchoServer public_echo;
  Tollgate gateway;
  std::string token;       // orders:read
  std::string weak_token;  // orders:write only
  int settled_count = 0;   // protected echo requests counted at the last sentinel
  int sentinels = 0;

  explicit Environment(const std::string& routes) {
    idp = start_dev_idp();
    protected_echo = start_echo_server("protected", {"--log-requests"});
    public_echo = start_echo_server("public", {"--log-requests"});
    gateway =
        start_tollgate(basic_config("upstreams:\n"
                                    "  protected: { targets: [ " +
                                        protected_echo.url() +
                                        " ] }\n"
                                        "  public: { targets: [ " +
                                        public_echo.url() + " ] }\n" + plugin_config(idp) + routes,
                                    // Room for a 64 KiB Authorization header: what
                                    // refuses it is then the 64 KiB field limit.
                                    "limits: { max_header_bytes: 128KiB }\n"));
    // Counted over all output: discovery may finish before the startup lines waited for above.
    gateway.process->wait_for_count("introspection endpoint .* discovered", 1);
    token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:read");
    weak_token = fetch_token(idp.port, "demo-client", "demo-secret", "orders:write");
    settled_count = settle();
  }

  // The number of request heads the protected echo has logged, read once a sentinel request sent
  // after everything before it has been logged too: a request an earlier case leaked reached the
  // echo before the gateway answered that case, so its line is printed before the sentinel's.
  int settle() {
    const std::string path = "/admin/sentinel-" + std::to_string(++sentinels);
    const auto r = http_get(gateway.port(), path, {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.result_int(), 200) << "sentinel " << path << ": " << r.body();
    protected_echo.process->wait_for_line("^echo-server request GET " + path + "$");
    return protected_echo.process->count_lines(kEchoRequestLine);
  }

  // Requests that reached the protected echo since the last call, the sentinel excluded.
  int protected_requests_since_last_check() {
    const int now = settle();
    const int delta = now - settled_count - 1;
    settled_count = now;
    return delta;
  }
};

struct Case {
  const char* name;
  std::string request;  // raw bytes; {TOKEN} and {WEAK} are replaced by live tokens
  int status;
  bool reaches_protected = false;
  const char* challenge_error = nullptr;  // expected error="..." in WWW-Authenticate
  bool asks_idp = false;                  // the IdP may be asked (an unknown token)
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

// A GET request head, with `headers` given as complete "Name: value\r\n" lines.
std::string get(const std::string& target, const std::string& headers = "",
                const std::string& host = "gateway.test") {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + headers + "\r\n";
}

std::string bearer(const std::string& credentials) {
  return "Authorization: " + credentials + "\r\n";
}

void run_case(Environment& env, const Case& c) {
  SCOPED_TRACE(c.name);
  const int idp_calls_before = introspect_calls(env.idp.port);
  std::string bytes = replace_all(c.request, kTokenPlaceholder, env.token);
  bytes = replace_all(bytes, kWeakTokenPlaceholder, env.weak_token);

  HttpConnection connection(env.gateway.port());
  connection.send_raw(bytes);
  const Response r = connection.read_response();
  EXPECT_EQ(r.result_int(), c.status) << r.body();
  if (c.status == 200) {
    EXPECT_EQ(json::parse(r.body()).value("server", ""),
              c.reaches_protected ? "protected" : "public");
  }
  if (c.challenge_error != nullptr) {
    EXPECT_NE(std::string(r[boost::beast::http::field::www_authenticate])
                  .find("error=\"" + std::string(c.challenge_error) + "\""),
              std::string::npos)
        << r[boost::beast::http::field::www_authenticate];
  }
  if (c.status == 401 && c.challenge_error == nullptr) {
    EXPECT_EQ(r[boost::beast::http::field::www_authenticate], "Bearer realm=\"tollgate\"");
  }
  EXPECT_EQ(env.protected_requests_since_last_check(), c.reaches_protected ? 1 : 0);
  if (!c.asks_idp) {
    EXPECT_EQ(introspect_calls(env.idp.port), idp_calls_before);
  }
}

// /admin protected, /public beside it, and a protected route chosen by host alone.
const std::string kRoutes =
    "routes:\n"
    "  - { name: admin, match: { paths: [ /admin ] }, upstream: protected, plugins: [ oidc ] }\n"
    "  - { name: public, match: { paths: [ /public ] }, upstream: public }\n"
    "  - { name: secure, match: { hosts: [ secure.example.com ] }, upstream: protected, "
    "plugins: [ oidc ] }\n";

class BypassTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] { env_ = std::make_unique<Environment>(kRoutes); });
  }
  static void TearDownTestSuite() { env_.reset(); }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }
  static SuiteSetup setup_;
  static std::unique_ptr<Environment> env_;
};
SuiteSetup BypassTest::setup_;
std::unique_ptr<Environment> BypassTest::env_;

TEST_P(BypassTest, NeverReachesTheProtectedUpstreamWithoutAValidToken) {
  run_case(*env_, GetParam());
}

const std::string kBigToken(64 * 1024, 'a');

INSTANTIATE_TEST_SUITE_P(
    Paths, BypassTest,
    ::testing::Values(
        // Controls: the suite can tell a pass from a refusal.
        Case{"validToken", get("/admin", bearer("Bearer {TOKEN}")), 200, true},
        Case{"noToken", get("/admin"), 401}, Case{"publicRoute", get("/public/x"), 200},
        Case{"missingScope", get("/admin", bearer("Bearer {WEAK}")), 403, false,
             "insufficient_scope", true},
        // Dot segments are resolved before routing: these are /admin.
        Case{"dotDot", get("/public/../admin"), 401},
        Case{"encodedDotDot", get("/public/%2e%2e/admin"), 401},
        Case{"upperEncodedDotDot", get("/public/%2E%2E/admin"), 401},
        Case{"dotSegment", get("/./admin/./x"), 401}, Case{"encodedLetter", get("/%61dmin"), 401},
        Case{"doubleSlash", get("//admin"), 401}, Case{"manySlashes", get("///admin//x"), 401},
        Case{"dotDotIntoAdmin", get("/public/x/../../admin/x"), 401},
        // Encoded separators, NUL, fragments and backslashes are refused outright.
        Case{"encodedSlash", get("/public/%2E%2E%2Fadmin"), 400},
        Case{"encodedSlashLower", get("/public/..%2fadmin"), 400},
        Case{"encodedBackslash", get("/public/..%5Cadmin"), 400},
        Case{"backslash", get("/public\\..\\admin"), 400},
        Case{"encodedNul", get("/admin%00"), 400},
        Case{"encodedNulBeforeDots", get("/public%00/../admin"), 400},
        Case{"fragment", get("/admin#x"), 400},
        Case{"dotDotSemicolon", get("/public/..;/admin"), 400},
        Case{"aboveRoot", get("/../admin"), 400},
        // Paths are case-sensitive: /ADMIN is no route at all, and certainly not public.
        Case{"upperCase", get("/ADMIN"), 404}, Case{"mixedCase", get("/Admin/x"), 404},
        Case{"prefixWithoutBoundary", get("/adminx"), 404},
        // Path parameters: a servlet upstream reads /admin;x=y as /admin, others as a segment
        // "admin;x=y". The two readings choose different routes here, so it is refused.
        Case{"pathParameter", get("/admin;x=y"), 400},
        Case{"emptySegmentParameter", get("/;x=y/admin"), 400},
        Case{"innerPathParameter", get("/admin;jsessionid=1/x"), 400}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Targets, BypassTest,
    ::testing::Values(
        // Absolute-form: the authority replaces Host (RFC 9112 §3.2.2); the path is still /admin.
        Case{"absoluteForm", get("http://gateway.test/admin"), 401},
        Case{"absoluteFormPublicHost", get("http://gateway.test/admin", "", "public.test"), 401},
        Case{"absoluteFormDotDot", get("http://gateway.test/public/../admin"), 401},
        Case{"absoluteFormUserinfo", get("http://user@gateway.test/admin"), 400},
        Case{"absoluteFormValid", get("http://gateway.test/admin", bearer("Bearer {TOKEN}")), 200,
             true},
        // Host routing: the host route wins over the path routes, whatever the path.
        Case{"hostOfProtectedRoute", get("/public/x", "", "secure.example.com"), 401},
        Case{"hostUpperCase", get("/public/x", "", "SECURE.Example.COM"), 401},
        Case{"hostWithPort", get("/public/x", "", "secure.example.com:8080"), 401},
        Case{"hostTrailingDot", get("/public/x", "", "secure.example.com."), 401},
        Case{"absoluteFormNamesProtectedHost", get("http://secure.example.com/public/x"), 401},
        Case{"hostRouteValidToken",
             get("/public/x", bearer("Bearer {TOKEN}"), "secure.example.com"), 200, true},
        Case{"hostWithUserinfo", get("/public/x", "", "x@secure.example.com"), 400},
        Case{"hostWithPath", get("/public/x", "", "secure.example.com/admin"), 400},
        Case{"duplicateHost", get("/public/x", "Host: secure.example.com\r\n"), 400},
        Case{"duplicateHostOtherOrder",
             get("/public/x", "Host: gateway.test\r\n", "secure.example.com"), 400},
        Case{"emptyHost", get("/admin", "", ""), 400},
        // Other request-target forms name no path to route on.
        Case{"authorityForm",
             "CONNECT secure.example.com:443 HTTP/1.1\r\nHost: secure.example.com\r\n\r\n", 400},
        Case{"asteriskForm", "OPTIONS * HTTP/1.1\r\nHost: gateway.test\r\n\r\n", 400},
        // A method that is not upper-case is refused (as nginx does); an unusual upper-case one
        // is still a request to /admin.
        Case{"lowerCaseMethod", "get /admin HTTP/1.1\r\nHost: gateway.test\r\n\r\n", 400},
        Case{"unknownMethod", "PURGE /admin HTTP/1.1\r\nHost: gateway.test\r\n\r\n", 401}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Credentials, BypassTest,
    ::testing::Values(
        Case{"emptyBearer", get("/admin", bearer("Bearer")), 400, false, "invalid_request"},
        Case{"emptyBearerTrailingSpace", get("/admin", bearer("Bearer ")), 400, false,
             "invalid_request"},
        Case{"whitespaceOnlyToken", get("/admin", bearer("Bearer     \t ")), 400, false,
             "invalid_request"},
        Case{"tabBeforeToken", get("/admin", bearer("Bearer\t{TOKEN}")), 400, false,
             "invalid_request"},
        Case{"longToken", get("/admin", bearer("Bearer " + std::string(9 * 1024, 'a'))), 400, false,
             "invalid_request"},
        // Within max_header_bytes (128 KiB here), but over the 64 KiB a single field may hold.
        Case{"hugeToken", get("/admin", bearer("Bearer " + kBigToken)), 431},
        Case{"nonAsciiToken", get("/admin", bearer("Bearer t\xc3\xb6ken")), 400, false,
             "invalid_request"},
        Case{"twoTokens", get("/admin", bearer("Bearer {TOKEN} {TOKEN}")), 400, false,
             "invalid_request"},
        Case{"twoAuthorizationHeaders",
             get("/admin", bearer("Bearer {TOKEN}") + bearer("Bearer {TOKEN}")), 400, false,
             "invalid_request"},
        Case{"tokenInHeaderAndQuery", get("/admin?access_token={TOKEN}", bearer("Bearer {TOKEN}")),
             400, false, "invalid_request"},
        Case{"tokenInQueryTwice", get("/admin?access_token={TOKEN}&access_token={TOKEN}"), 400,
             false, "invalid_request"},
        Case{"basicScheme", get("/admin", bearer("Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=")), 401},
        Case{"unknownToken", get("/admin", bearer("Bearer not-a-token")), 401, false,
             "invalid_token", true},
        // The scheme is case-insensitive (RFC 9110 §11.1): these carry a valid token.
        Case{"lowerCaseScheme", get("/admin", bearer("bearer {TOKEN}")), 200, true},
        Case{"upperCaseScheme", get("/admin", bearer("BEARER {TOKEN}")), 200, true},
        Case{"spacesBeforeToken", get("/admin", bearer("Bearer   {TOKEN}")), 200, true},
        Case{"tokenInQuery", get("/admin?access_token={TOKEN}"), 200, true}),
    [](const auto& info) { return std::string(info.param.name); });

// A catch-all public route next to a protected prefix (the usual way to publish "everything but
// /admin"): neither path parameters nor a method spelt in another case may carry /admin out of
// its route into the catch-all.
const std::string kCatchAllRoutes =
    "routes:\n"
    "  - { name: admin, match: { paths: [ /admin ], methods: [ GET, POST ] }, upstream: protected,"
    " plugins: [ oidc ] }\n"
    "  - { name: everything-else, match: { paths: [ / ] }, upstream: public }\n";

class CatchAllBypassTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] { env_ = std::make_unique<Environment>(kCatchAllRoutes); });
  }
  static void TearDownTestSuite() { env_.reset(); }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }
  static SuiteSetup setup_;
  static std::unique_ptr<Environment> env_;
};
SuiteSetup CatchAllBypassTest::setup_;
std::unique_ptr<Environment> CatchAllBypassTest::env_;

TEST_P(CatchAllBypassTest, NeverReachesTheProtectedUpstreamWithoutAValidToken) {
  run_case(*env_, GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    PathParameters, CatchAllBypassTest,
    ::testing::Values(
        Case{"noToken", get("/admin"), 401}, Case{"pathParameter", get("/admin;x=y"), 400},
        Case{"emptySegmentParameter", get("/;x=y/admin"), 400},
        Case{"innerPathParameter", get("/admin;jsessionid=1/users"), 400},
        Case{"upperCaseIsPublic", get("/ADMIN"), 200},
        // Parameters that choose the same route either way are forwarded.
        Case{"harmlessParameter", get("/shop;v=1/items"), 200},
        Case{"parameterBelowAdmin", get("/admin/users;v=1"), 401},
        Case{"parameterBelowAdminValid", get("/admin/users;v=1", bearer("Bearer {TOKEN}")), 200,
             true},
        // "get" is no GET to the router, but is one to an upstream that upper-cases
        // methods: it must not reach the catch-all.
        Case{"lowerCaseMethod", "get /admin HTTP/1.1\r\nHost: gateway.test\r\n\r\n", 400},
        Case{"mixedCaseMethod",
             "Post /admin HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 0\r\n\r\n", 400}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tollgate::test
