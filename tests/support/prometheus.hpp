// A real Prometheus server (Debian's `prometheus` package) for integration tests: on 127.0.0.1 with
// a port it chose, a temporary data directory and one scrape job, queried through its HTTP API; and
// `promtool check metrics`, the format's reference linter.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.hpp"

namespace tollgate::test {

struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class PrometheusServer {
 public:
  // Scrapes http://`target`/metrics ("host:port") every second as job `job`. Returns once the
  // server answers /-/ready; throws when the binary is missing or it does not get ready.
  explicit PrometheusServer(const std::string& target, const std::string& job = "tollgate");
  ~PrometheusServer();  // SIGTERM, so that it closes its data directory before that is removed
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::uint16_t port() const { return port_; }

  // GET /api/v1/query: the instant vector (or scalar, as one unlabelled sample) `promql` evaluates
  // to now; empty when no series matches. Throws when the API answers an error.
  std::vector<PromSample> query(const std::string& promql) const;

  // Polls `promql` until it evaluates to exactly one sample equal to `expected`, or `limit` passes
  // (the value reaches Prometheus only with a scrape after the traffic). The failure message holds
  // the last result.
  testing::AssertionResult wait_for_value(
      const std::string& promql, double expected,
      std::chrono::milliseconds limit = std::chrono::seconds(15)) const;

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

struct PromtoolResult {
  int exit_status = -1;  // 0: clean; 3: lint problems; 1: unparsable
  std::string output;
};

// `promtool check metrics` on an exposition text (what a scrape of /metrics returned).
PromtoolResult promtool_check_metrics(const std::string& exposition);

}  // namespace tollgate::test
