#include "prometheus.hpp"

#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace tollgate::test {
namespace {

// Process runs its argv with execv, which does not search PATH.
std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(program +
                           " is not on PATH: install Debian's prometheus package "
                           "(scripts/install-deps.sh prometheus)");
}

std::string scrape_config(const std::string& target, const std::string& job) {
  return "global:\n"
         "  scrape_interval: 1s\n"
         "  scrape_timeout: 1s\n"
         "scrape_configs:\n"
         "  - job_name: " +
         job +
         "\n"
         "    metrics_path: /metrics\n"
         "    static_configs:\n"
         "      - targets: [ \"" +
         target + "\" ]\n";
}

std::string describe(const std::vector<PromSample>& samples) {
  if (samples.empty()) return "no sample";
  std::string text;
  for (const auto& sample : samples) {
    text += "{";
    for (const auto& [name, value] : sample.labels) text += name + "=\"" + value + "\",";
    text += "} " + std::to_string(sample.value) + "; ";
  }
  return text;
}

}  // namespace

PrometheusServer::PrometheusServer(const std::string& target, const std::string& job)
    : dir_(std::make_unique<TempDir>()) {
  const std::string config = dir_->write("prometheus.yml", scrape_config(target, job));
  process_ = std::make_unique<Process>(std::vector<std::string>{
      find_on_path("prometheus"), "--config.file=" + config,
      "--storage.tsdb.path=" + dir_->path() + "/data", "--web.listen-address=127.0.0.1:0"});
  // The web server logs the address it bound, with the port the kernel chose.
  port_ = static_cast<std::uint16_t>(
      std::stoi(process_->wait_for_line(R"re(msg="Listening on" address=127\.0\.0\.1:(\d+))re")));
  const bool ready = poll_until(
      [this] {
        try {
          return http_get(port_, "/-/ready").result_int() == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20));
  if (!ready) throw std::runtime_error("prometheus did not get ready:\n" + process_->output());
}

PrometheusServer::~PrometheusServer() {
  process_->signal(SIGTERM);
  process_->wait_exit(std::chrono::seconds(10));  // the Process destructor kills it if it hangs
}

std::vector<PromSample> PrometheusServer::query(const std::string& promql) const {
  const Response response = http_get(
      port_, "/api/v1/query?query=" + boost::urls::encode(promql, boost::urls::unreserved_chars));
  const auto body = nlohmann::json::parse(response.body());
  if (response.result_int() != 200 || body.at("status") != "success") {
    throw std::runtime_error("query " + promql + ": " + std::to_string(response.result_int()) +
                             " " + response.body());
  }
  const auto& data = body.at("data");
  // A value is [unix time, "number as text"].
  const auto value_of = [](const nlohmann::json& pair) {
    return std::stod(pair.at(1).get<std::string>());
  };
  std::vector<PromSample> samples;
  if (data.at("resultType") == "scalar") {
    samples.push_back({{}, value_of(data.at("result"))});
    return samples;
  }
  for (const auto& series : data.at("result")) {
    samples.push_back({series.at("metric").get<std::map<std::string, std::string>>(),
                       value_of(series.at("value"))});
  }
  return samples;
}

testing::AssertionResult PrometheusServer::wait_for_value(const std::string& promql,
                                                          double expected,
                                                          std::chrono::milliseconds limit) const {
  std::vector<PromSample> last;
  const bool reached = poll_until(
      [&] {
        last = query(promql);
        return last.size() == 1 && last.front().value == expected;
      },
      limit);
  if (reached) return testing::AssertionSuccess();
  return testing::AssertionFailure() << promql << " did not become " << expected << " within "
                                     << limit.count() << " ms; last: " << describe(last);
}

PromtoolResult promtool_check_metrics(const std::string& exposition) {
  TempDir dir;
  const std::string input = dir.write("metrics.txt", exposition);
  // promtool reads the exposition on its standard input.
  Process promtool(
      {"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", find_on_path("promtool"), input});
  PromtoolResult result;
  result.exit_status = promtool.wait_exit(std::chrono::seconds(20));
  result.output = promtool.output();
  return result;
}

}  // namespace tollgate::test
