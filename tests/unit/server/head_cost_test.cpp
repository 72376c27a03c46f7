// The work a request head costs before routing (scan, parse, hop-by-hop strip) grows with its size
// alone, not with how its headers relate to each other. Measured as this thread's CPU time, not
// wall time, against a benign head of exactly the same size, so a busy machine does not decide.
#include <time.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <string_view>

#include "tollgate/http/headers.hpp"
#include "tollgate/server/request_head.hpp"

namespace tollgate::server {
namespace {

namespace http = boost::beast::http;
using Parser = http::request_parser<http::buffer_body>;

constexpr int kHeaders = 1'500;
constexpr int kConnectionTokens = 2'000;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// `kHeaders` small headers and one header of `kConnectionTokens` distinct tokens, named
// `list_name`: "Connection" makes every token a header to look for among all the others;
// "X-Padding-" (as long) carries the same bytes as plain data.
std::string head_with_token_list(std::string_view list_name) {
  std::string head = "GET /orders HTTP/1.1\r\nHost: api.example.com\r\n";
  for (int i = 0; i < kHeaders; ++i) head += "h" + std::to_string(i) + ": 1\r\n";
  head.append(list_name).append(": ");
  for (int i = 0; i < kConnectionTokens; ++i) {
    if (i > 0) head += ",";
    head += "t" + std::to_string(i);
  }
  head += "\r\n\r\n";
  return head;
}

// What the session does with a head before routing it.
void process(std::string_view head) {
  const HeadScan scan = scan_request_head(head);
  ASSERT_EQ(scan.state, HeadState::complete);
  Parser parser;
  parser.header_limit(kHeaderLimit);
  ASSERT_EQ(parse_request_head(parser, head.substr(0, scan.size)), errc::ok);
  http_io::strip_hop_by_hop(parser.get());
}

// The least CPU time one processing of `head` took over several: the least is the one the fewest
// interruptions inflated.
std::chrono::nanoseconds least_cpu_time(std::string_view head) {
  constexpr int kRepeats = 7;
  auto least = std::chrono::nanoseconds::max();
  for (int i = 0; i < kRepeats; ++i) {
    const auto start = thread_cpu_time();
    process(head);
    least = std::min(least, thread_cpu_time() - start);
  }
  return least;
}

TEST(HeadCost, AConnectionHeaderNamingThousandsOfTokensCostsWhatItsSizeDoes) {
  const std::string adversarial = head_with_token_list("Connection");
  const std::string benign = head_with_token_list("X-Padding-");
  ASSERT_EQ(adversarial.size(), benign.size());

  const auto adversarial_time = least_cpu_time(adversarial);
  const auto benign_time = least_cpu_time(benign);
  ASSERT_GT(benign_time.count(), 0);
  const double ratio =
      static_cast<double>(adversarial_time.count()) / static_cast<double>(benign_time.count());
  RecordProperty("cpu_ratio", std::to_string(ratio));
  // A linear strip costs about what parsing costs; the quadratic one cost hundreds of times that.
  EXPECT_LT(ratio, 8.0) << "adversarial " << adversarial_time.count() << " ns, benign "
                        << benign_time.count() << " ns (" << adversarial.size() << " bytes)";
}

TEST(HeadCost, TheStripStillRemovesWhatTheLongListNames) {
  std::string head = head_with_token_list("Connection");
  head.insert(head.size() - 2, "t1999: gone\r\nt0: gone too\r\n");
  Parser parser;
  parser.header_limit(kHeaderLimit);
  ASSERT_EQ(parse_request_head(parser, head), errc::ok);
  http_io::strip_hop_by_hop(parser.get());
  EXPECT_EQ(parser.get().count("t1999"), 0u);
  EXPECT_EQ(parser.get().count("t0"), 0u);
  EXPECT_EQ(parser.get().count(http::field::connection), 0u);
  EXPECT_EQ(parser.get().count("h1499"), 1u);
}

}  // namespace
}  // namespace tollgate::server
