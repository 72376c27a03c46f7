// W3C trace context through real processes: what the echo upstream and the dev IdP receive, and
// what the access log says. The expected shapes are written out here, independently of tollgate's
// parser.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kClientParent[] = "00f067aa0ba902b7";
const std::string kClientTraceparent = std::string("00-") + kTraceId + "-" + kClientParent + "-01";

// A version 00 traceparent: the groups are the trace id, the parent id and the flags.
const std::regex kTraceparentShape("^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$");

struct Traceparent {
  std::string trace_id;
  std::string parent_id;
  std::string flags;
};

// The one traceparent the echo upstream received; fails the test unless there is exactly one and
// it is a valid version 00 value.
Traceparent traceparent_of(const json& headers) {
  const auto field = headers.find("traceparent");
  if (field == headers.end() || !field->is_string()) {
    ADD_FAILURE() << "no single traceparent in " << headers.dump();
    return {};
  }
  const std::string value = field->get<std::string>();
  std::smatch m;
  if (!std::regex_match(value, m, kTraceparentShape)) {
    ADD_FAILURE() << "not a version 00 traceparent: " << value;
    return {};
  }
  EXPECT_EQ(value.size(), 55u);
  EXPECT_NE(m[1], std::string(32, '0'));
  EXPECT_NE(m[2], std::string(16, '0'));
  return {m[1], m[2], m[3]};
}

// A member of a JSON object as text (a string as it is, anything else as JSON); "<absent>" when it
// is not there.
std::string field(const json& object, const std::string& name) {
  const auto it = object.find(name);
  if (it == object.end()) return "<absent>";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

class TraceContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    gateway_ = start_tollgate(
        basic_config("upstreams:\n"
                     "  echo: { targets: [ " +
                     echo_.url() +
                     " ] }\n"
                     "plugins:\n" +
                     openid_connect_plugin(
                         "uncached", "introspection_endpoint: " + idp_.issuer() + "/v1/introspect",
                         "      cache_introspection: false\n") +
                     "routes:\n"
                     "  - { name: traced, match: { paths: [ /traced ] }, upstream: echo, "
                     "plugins: [ uncached ] }\n"
                     "  - { name: public, match: { paths: [ /public ] }, upstream: echo }\n"));
  }

  // The headers the upstream received for `request`.
  json upstream_headers(Request request) {
    HttpConnection connection(gateway_.port());
    request.version(11);
    const Response response = connection.send(std::move(request));
    EXPECT_EQ(response.result_int(), 200) << response.body();
    return json::parse(response.body())["headers"];
  }
  json upstream_headers(const std::string& target,
                        const std::map<std::string, std::string>& headers) {
    Request request{http::verb::get, target, 11};
    for (const auto& [name, value] : headers) request.set(name, value);
    return upstream_headers(std::move(request));
  }

  json idp_traces() {
    return json::parse(http_get(idp_.port, "/admin/stats").body())["introspect_traces"];
  }

  DevIdp idp_;
  EchoServer echo_;
  Tollgate gateway_;
};

TEST_F(TraceContextTest, TheUpstreamContinuesTheClientsTraceUnderTheGatewaysSpan) {
  Request request{http::verb::get, "/public", 11};
  request.set("traceparent", kClientTraceparent);
  request.insert("tracestate", "congo=t61rcWkgMzE");
  request.insert("tracestate", "rojo=00f067aa0ba902b7");
  const json headers = upstream_headers(request);
  const Traceparent sent = traceparent_of(headers);
  EXPECT_EQ(sent.trace_id, kTraceId);
  EXPECT_NE(sent.parent_id, kClientParent);  // the gateway's own span
  EXPECT_EQ(sent.flags, "01");
  EXPECT_EQ(field(headers, "tracestate"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

  // A second request of the same trace is another span.
  EXPECT_NE(traceparent_of(upstream_headers(request)).parent_id, sent.parent_id);

  // Not sampled stays not sampled.
  const Traceparent unsampled = traceparent_of(upstream_headers(
      "/public", {{"traceparent", std::string("00-") + kTraceId + "-" + kClientParent + "-00"}}));
  EXPECT_EQ(unsampled.trace_id, kTraceId);
  EXPECT_EQ(unsampled.flags, "00");
}

TEST_F(TraceContextTest, NamingTheTraceHeadersInConnectionDoesNotRemoveThem) {
  const json headers = upstream_headers("/public", {{"traceparent", kClientTraceparent},
                                                    {"tracestate", "congo=t61rcWkgMzE"},
                                                    {"Connection", "traceparent, tracestate"}});
  EXPECT_EQ(traceparent_of(headers).trace_id, kTraceId);
  EXPECT_EQ(field(headers, "tracestate"), "congo=t61rcWkgMzE");
}

TEST_F(TraceContextTest, AnAbsentOrMalformedTraceparentStartsANewSampledTrace) {
  const std::vector<std::string> malformed = {
      "",  // absent
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
      "not a traceparent",
  };
  std::set<std::string> trace_ids;
  for (const std::string& value : malformed) {
    Request request{http::verb::get, "/public", 11};
    if (!value.empty()) request.set("traceparent", value);
    request.set("tracestate", "congo=t61rcWkgMzE");
    const json headers = upstream_headers(request);
    const Traceparent sent = traceparent_of(headers);
    EXPECT_NE(sent.trace_id, kTraceId) << value;
    EXPECT_EQ(sent.flags, "01") << value;
    EXPECT_FALSE(headers.contains("tracestate")) << value << ": " << headers.dump();
    trace_ids.insert(sent.trace_id);
  }
  EXPECT_EQ(trace_ids.size(), malformed.size());  // a new trace for every request

  // Two traceparent fields name no single parent.
  Request twice{http::verb::get, "/public", 11};
  twice.insert("traceparent", kClientTraceparent);
  twice.insert("traceparent", kClientTraceparent);
  EXPECT_NE(traceparent_of(upstream_headers(twice)).trace_id, kTraceId);
}

TEST_F(TraceContextTest, TheIdpCallCarriesTheSameTrace) {
  const std::string token = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  const json continued = upstream_headers("/traced", {{"Authorization", "Bearer " + token},
                                                      {"traceparent", kClientTraceparent},
                                                      {"tracestate", "congo=t61rcWkgMzE"}});
  const json started = upstream_headers("/traced", {{"Authorization", "Bearer " + token}});

  const json traces = idp_traces();
  ASSERT_EQ(traces.size(), 2u) << traces.dump();
  // The IdP call is made within the gateway's span: the same traceparent as the upstream's.
  EXPECT_EQ(field(traces[0], "traceparent"), field(continued, "traceparent"));
  EXPECT_EQ(traceparent_of(traces[0]).trace_id, kTraceId);
  EXPECT_EQ(field(traces[0], "tracestate"), "congo=t61rcWkgMzE");
  EXPECT_EQ(field(traces[1], "traceparent"), field(started, "traceparent"));
  EXPECT_FALSE(traces[1].contains("tracestate"));
}

TEST_F(TraceContextTest, TheAccessLogNamesTheTraceId) {
  upstream_headers("/public", {{"traceparent", kClientTraceparent}, {"X-Request-Id", "given-1"}});
  gateway_.process->wait_for_line(std::string("request_id=given-1 trace_id=") + kTraceId);

  const json headers = upstream_headers("/public", {{"X-Request-Id", "generated-1"}});
  gateway_.process->wait_for_line("request_id=generated-1 trace_id=" +
                                  traceparent_of(headers).trace_id);

  // An answer of the gateway's own is in the trace too.
  const Response missing =
      http_get(gateway_.port(), "/nowhere",
               {{"traceparent", kClientTraceparent}, {"X-Request-Id", "lost-1"}});
  EXPECT_EQ(missing.result_int(), 404);
  gateway_.process->wait_for_line(std::string("request_id=lost-1 trace_id=") + kTraceId);
}

TEST(TraceContextJsonLog, TheJsonAccessLogHasTheTraceId) {
  auto echo = start_echo_server();
  auto gateway = start_tollgate(
      "listen:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nworkers: 1\n"
      "log: { level: info, format: json, access_log: stdout }\n"
      "upstreams:\n  echo: { targets: [ " +
      echo.url() +
      " ] }\n"
      "routes:\n  - { name: all, match: { paths: [ / ] }, upstream: echo }\n");
  ASSERT_EQ(http_get(gateway.port(), "/j",
                     {{"traceparent", kClientTraceparent}, {"X-Request-Id", "json-trace-1"}})
                .result_int(),
            200);
  gateway.process->wait_for_line("json-trace-1");
  const std::string out = gateway.process->output();
  const auto start = out.rfind('\n', out.find("json-trace-1")) + 1;
  const json record = json::parse(out.substr(start, out.find('\n', start) - start));
  EXPECT_EQ(field(record, "trace_id"), kTraceId);
}

}  // namespace
}  // namespace tollgate::test
