#include "server/access_log.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace tollgate::server {
namespace {

using std::chrono::microseconds;

AccessRecord record_with_principal(std::string_view principal) {
  return AccessRecord{.method = "GET",
                      .path = "/orders",
                      .route = "orders",
                      .upstream = "orders-service",
                      .upstream_target = "http://127.0.0.1:9000",
                      .status = 200,
                      .upstream_status = 200,
                      .bytes_in = 120,
                      .bytes_out = 42,
                      .duration = microseconds(1500),
                      .upstream_duration = microseconds(1000),
                      .idp_duration = microseconds(0),
                      .request_id = "req-1",
                      .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                      .peer = "127.0.0.1",
                      .principal = principal,
                      .cache = "hit"};
}

bool printable_ascii(std::string_view line) {
  for (const char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  }
  return true;
}

TEST(AccessLogText, WritesTheUsualLine) {
  EXPECT_EQ(format_access_line(record_with_principal("alice"), config::LogFormat::text),
            "127.0.0.1 \"GET /orders\" 200 42 1.500ms route=orders upstream=http://127.0.0.1:9000 "
            "principal=alice cache=hit request_id=req-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736");
}

// U+2028, U+0085, CR and LF end a line for one reader or another; a space, a quote or a backslash
// would let a value pass for another field, or for an escape.
TEST(AccessLogText, EscapesEveryByteThatCouldEndTheLineOrForgeAField) {
  const std::string line = format_access_line(
      record_with_principal("a\u2028b\u0085c\r\nd e\"f\\g\x7f"), config::LogFormat::text);
  EXPECT_NE(line.find(R"(principal=a\xE2\x80\xA8b\xC2\x85c\x0D\x0Ad\x20e\x22f\x5Cg\x7F )"),
            std::string::npos)
      << line;
  EXPECT_TRUE(printable_ascii(line)) << line;
}

TEST(AccessLogJson, IsOneJsonObjectOfPrintableAscii) {
  const std::string principal = "a\u2028b\u0085c\r\n\"\\";
  const std::string line =
      format_access_line(record_with_principal(principal), config::LogFormat::json);
  EXPECT_NE(line.find(R"("principal":"a\u2028b\u0085c\r\n\"\\")"), std::string::npos) << line;
  EXPECT_TRUE(printable_ascii(line)) << line;
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed.at("principal"), principal);
  EXPECT_EQ(parsed.at("status"), 200);
  EXPECT_EQ(parsed.at("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

// The field names are documented (README, "Logs"): operators' parsers depend on them and on "no
// value" being null.
TEST(AccessLogJson, HasTheDocumentedFieldsInTheirOrder) {
  const nlohmann::ordered_json line = nlohmann::ordered_json::parse(
      format_access_line(record_with_principal("alice"), config::LogFormat::json));
  std::vector<std::string> names;
  for (const auto& [name, value] : line.items()) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"time", "request_id", "trace_id", "client", "method", "path",
                                      "status", "bytes_in", "bytes_out", "duration", "route",
                                      "upstream", "upstream_target", "upstream_status",
                                      "upstream_duration", "principal", "cache", "idp_duration"}));
  EXPECT_EQ(line.at("duration"), 0.0015);
  EXPECT_EQ(line.at("upstream_duration"), 0.001);
  EXPECT_TRUE(line.at("idp_duration").is_null());
  EXPECT_EQ(line.at("bytes_in"), 120);
  EXPECT_EQ(line.at("upstream"), "orders-service");
  EXPECT_EQ(line.at("cache"), "hit");
  EXPECT_EQ(line.at("time").get<std::string>().size(), 24u);  // 2026-12-06T10:11:12.345Z

  const nlohmann::json unmatched = nlohmann::json::parse(format_access_line(
      AccessRecord{.method = "GET", .path = "/x", .status = 404, .request_id = "r", .peer = "p"},
      config::LogFormat::json));
  for (const char* absent : {"route", "upstream", "upstream_target", "upstream_status",
                             "upstream_duration", "principal", "cache", "idp_duration"}) {
    EXPECT_TRUE(unmatched.at(absent).is_null()) << absent;
  }
}

TEST(AccessLogJson, InvalidUtf8BecomesTheReplacementCharacter) {
  const std::string line =
      format_access_line(record_with_principal("bad\xff\xfe"), config::LogFormat::json);
  EXPECT_TRUE(printable_ascii(line)) << line;
  EXPECT_NE(line.find(R"("principal":"bad\ufffd)"), std::string::npos) << line;
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

// The general log in the json format: a message that quotes what a peer sent (a reason, a path)
// must leave each line one JSON object, of printable ASCII like the access log.
TEST(GeneralLogJson, EveryLineIsOneJsonObjectWhateverTheMessageHolds) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>(
      "general-log-test", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  config::Log log;
  log.format = config::LogFormat::json;
  log.access_log = "off";
  configure_logging(log);
  const std::string message = "upstream said \"no\" \\ a\u2028b\r\nc bad\xff";
  spdlog::warn("{}", message);
  spdlog::set_default_logger(previous);
  log.format = config::LogFormat::text;  // as the other tests expect it
  configure_logging(log);

  std::string line = out.str();
  ASSERT_FALSE(line.empty());
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  EXPECT_TRUE(printable_ascii(line)) << line;
  ASSERT_TRUE(nlohmann::json::accept(line)) << line;
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed.at("level"), "warning");
  EXPECT_EQ(parsed.at("message"), "upstream said \"no\" \\ a\u2028b\r\nc bad\ufffd");
}

}  // namespace
}  // namespace tollgate::server
