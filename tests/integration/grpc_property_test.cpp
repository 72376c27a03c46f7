// The multiplexing invariant of upstream HTTP/2 under seeded random schedules: batches of
// concurrent gRPC streams from one client connection go through the gateway onto few connections
// to a scripted upstream (tests/grpc/h2_property.py, python3-h2) that answers out of order, after
// random delays, in split DATA frames, and resets streams, refuses them, sends GOAWAY or drops the
// connection at random points. For every stream:
// - it ends exactly once, with HTTP 200: never reset, never answered twice;
// - what it got is its own: the upstream's x-id is its id, every body byte is its own echoed;
// - it ends with grpc-status 0 and the whole echo, or with 14 (UNAVAILABLE) when its upstream
//   stream failed; a stream the upstream never processed (REFUSED_STREAM, above GOAWAY's last
//   stream id) is sent again and succeeds.
// Afterwards the upstream holds no open stream, never saw more connections than the gateway
// allows (workers x h2_max_connections), and the gateway holds no more than those.
// TOLLGATE_SEED and TOLLGATE_SCHEDULES repeat or widen a run; a failure prints both.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kScript = std::string(TOLLGATE_SOURCE_DIR) + "/tests/grpc/h2_property.py";
constexpr int kWorkers = 2;
constexpr int kMaxConnections = 2;  // h2_max_connections

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text ? std::strtoull(text, nullptr, 10) : fallback;
}

json run_script(std::vector<std::string> args, std::chrono::seconds limit) {
  std::vector<std::string> argv{"/usr/bin/python3", kScript};
  argv.insert(argv.end(), args.begin(), args.end());
  Process process(argv);
  const std::string line = process.wait_for_line(R"(^(\{.*\})$)", limit);
  EXPECT_EQ(process.wait_exit(), 0) << process.output();
  return json::parse(line);
}

TEST(GrpcPropertyTest, EveryStreamGetsItsOwnAnswerOrUnavailable) {
  const std::uint64_t seed = env_number("TOLLGATE_SEED", 20261207);
  const std::uint64_t schedules = env_number("TOLLGATE_SCHEDULES", 1000);
  const int budget_s = 80;
  const std::string reproduce =
      "TOLLGATE_SEED=" + std::to_string(seed) + " TOLLGATE_SCHEDULES=" + std::to_string(schedules);

  Process upstream({"/usr/bin/python3", kScript, "upstream"});
  const std::string upstream_port = upstream.wait_for_line(R"(^listening (\d+)$)");
  Tollgate gateway = start_tollgate(
      "listen:\n"
      "  - { address: 127.0.0.1:0, http2: true }\n"
      "admin:\n"
      "  address: 127.0.0.1:0\n"
      "workers: " +
      std::to_string(kWorkers) +
      "\n"
      "log: { level: info, format: text, access_log: off }\n"
      "upstreams:\n"
      "  prop: { targets: [ http://127.0.0.1:" +
      upstream_port + " ], protocol: grpc, h2_max_connections: " + std::to_string(kMaxConnections) +
      " }\n"
      "routes:\n"
      "  - { name: prop, match: { paths: [ / ] }, upstream: prop }\n");

  const json result = run_script({"client", std::to_string(gateway.port()), std::to_string(seed),
                                  std::to_string(schedules), std::to_string(budget_s)},
                                 std::chrono::seconds(budget_s + 60));
  std::cout << "played " << result["schedules"] << " schedules, " << result["streams"]
            << " streams (" << result["ok"] << " ok, " << result["failed"] << " unavailable) in "
            << result["seconds"] << " s\n";
  EXPECT_EQ(result["violation_count"], 0) << reproduce << "\n"
                                          << result["violations"].dump(1) << "\nupstream:\n"
                                          << upstream.output();
  // A slow machine (a sanitizer build) may play fewer within the budget; a few hundred still
  // cover every kind of plan many times.
  EXPECT_GE(result["schedules"].get<std::uint64_t>(), std::min<std::uint64_t>(schedules, 200))
      << reproduce;
  EXPECT_GT(result["ok"].get<int>(), 0) << reproduce;
  EXPECT_GT(result["failed"].get<int>(), 0) << reproduce;

  // Nothing left behind: no open stream at the upstream, and no more connections than allowed.
  json stats;
  EXPECT_TRUE(poll_until(
      [&] {
        stats = run_script({"stats", upstream_port}, 20s);
        return stats["open_streams"] == 0;
      },
      10s))
      << stats.dump();
  EXPECT_LE(stats["max_connections"].get<int>(), kWorkers * kMaxConnections + 1)  // + the stats'
      << stats.dump();
  EXPECT_TRUE(poll_until(
      [&] { return open_connections(gateway.process->pid()) <= kWorkers * kMaxConnections; }, 10s))
      << open_connections(gateway.process->pid()) << " connections open";
}

// A gateway on a plain listener that speaks both framings, with one route to the scripted upstream
// as an h2c upstream.
Tollgate start_gateway_to(const std::string& upstream_port, const std::string& extra = "") {
  return start_tollgate(
      "listen:\n"
      "  - { address: 127.0.0.1:0, http2: true }\n"
      "admin: { address: 127.0.0.1:0 }\n"
      "log: { level: info, format: text, access_log: off }\n" +
      extra +
      "upstreams:\n"
      "  plain: { targets: [ http://127.0.0.1:" +
      upstream_port +
      " ], protocol: h2 }\n"
      "routes:\n"
      "  - { name: plain, match: { paths: [ / ] }, upstream: plain }\n");
}

// An HTTP/2 answer's head is bounded as an HTTP/1.1 one is (max_response_header_bytes), however
// many fields it comes in: over the bound the upstream stream is reset and the client gets 502.
TEST(UpstreamHttp2Test, AnAnswerHeadOverTheLimitIsABadGateway) {
  Process upstream({"/usr/bin/python3", kScript, "upstream"});
  const std::string upstream_port = upstream.wait_for_line(R"(^listening (\d+)$)");
  Tollgate gateway =
      start_gateway_to(upstream_port, "limits: { max_response_header_bytes: 16KiB }\n");
  const auto status = [&](const std::string& plan) {
    Process curl({"/usr/bin/curl", "-sS", "--max-time", "10", "--http2-prior-knowledge", "-o",
                  "/dev/null", "-w", "status %{http_code}\n", "-H", "x-plan: " + plan,
                  "http://127.0.0.1:" + std::to_string(gateway.port()) + "/head"});
    const std::string line = curl.wait_for_line(R"(^status (\d+)$)");
    EXPECT_EQ(curl.wait_exit(), 0) << curl.output();
    return line;
  };
  EXPECT_EQ(status("big-head:15000"), "200");
  EXPECT_EQ(status("big-head:17000"), "502");
  gateway.process->wait_for_line("header block is over 16384 bytes");
  EXPECT_EQ(status("big-head:15000"), "200");  // the connection serves on
}

// The fields the gateway adds reach an HTTP/2 upstream once each, whichever framing the client
// used: an HTTP/1.1 client's head goes out through nghttp2 as an HTTP/2 client's does.
TEST(UpstreamHttp2Test, TheGatewaysFieldsReachItOnceFromEitherFraming) {
  Process upstream({"/usr/bin/python3", kScript, "upstream"});
  const std::string upstream_port = upstream.wait_for_line(R"(^listening (\d+)$)");
  Tollgate gateway = start_gateway_to(upstream_port);
  for (const std::string framing : {"--http1.1", "--http2-prior-knowledge"}) {
    Process curl({"/usr/bin/curl", "-sS", "--max-time", "10", framing, "-H", "x-plan: headers",
                  "-w", "\\n", "http://127.0.0.1:" + std::to_string(gateway.port()) + "/fields"});
    const std::string line = curl.wait_for_line(R"(^(\[.*\])$)");
    EXPECT_EQ(curl.wait_exit(), 0) << curl.output();
    std::multimap<std::string, std::string> fields;
    for (const auto& field : json::parse(line)) fields.emplace(field[0], field[1]);
    for (const char* name : {"x-request-id", "traceparent", "x-forwarded-for", "x-forwarded-proto",
                             "x-forwarded-host", "via"}) {
      EXPECT_EQ(fields.count(name), 1u) << framing << " " << name << "\n" << line;
    }
    const auto value = [&](const std::string& name) {
      const auto field = fields.find(name);
      return field == fields.end() ? std::string("(none)") : field->second;
    };
    EXPECT_EQ(value("x-forwarded-for"), "127.0.0.1") << framing;
    EXPECT_EQ(value("via"), "1.1 tollgate") << framing;
    EXPECT_EQ(value(":authority"), "127.0.0.1:" + upstream_port) << framing;
  }
}

}  // namespace
}  // namespace tollgate::test
