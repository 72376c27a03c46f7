#include "tollgate/server/access_log.hpp"

#include <atomic>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace tollgate::server {
namespace {

std::atomic<bool> g_enabled{false};
std::atomic<bool> g_json{false};
// Made once and never replaced, so workers log through it without a lock of ours; a reload that
// changes the target swaps the sink inside `g_access_target`, under that sink's own mutex.
std::shared_ptr<spdlog::sinks::dist_sink_mt> g_access_target;
std::shared_ptr<spdlog::logger> g_access;
std::string g_access_path;  // the current target; touched only by configure_logging()

std::shared_ptr<spdlog::sinks::sink> make_access_sink(const std::string& target) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (target == "stdout") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else if (target == "stderr") {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(target);
  }
  sink->set_pattern("%v");
  return sink;
}

void set_access_target(const std::string& target) {
  if (!g_access) {
    spdlog::init_thread_pool(8192, 1);
    g_access_target = std::make_shared<spdlog::sinks::dist_sink_mt>();
    g_access =
        std::make_shared<spdlog::async_logger>("access", g_access_target, spdlog::thread_pool(),
                                               spdlog::async_overflow_policy::overrun_oldest);
    g_access->set_pattern("%v");
    g_access->flush_on(spdlog::level::info);
  }
  if (target == g_access_path) return;
  g_access_target->set_sinks({make_access_sink(target)});
  g_access_path = target;
}

}  // namespace

void configure_logging(const config::Log& log) {
  spdlog::set_level(spdlog::level::from_str(log.level));
  if (log.format == config::LogFormat::json) {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","message":"%v"})");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
  }
  spdlog::flush_on(spdlog::level::info);
  g_json = log.format == config::LogFormat::json;
  if (log.access_log == "off") {
    g_enabled = false;
    return;
  }
  set_access_target(log.access_log);
  g_enabled = true;
}

bool access_log_enabled() noexcept {
  return g_enabled.load(std::memory_order_relaxed);
}

void log_access(const AccessRecord& r) {
  // Acquire: a reload that turns the log on makes g_access first.
  if (!g_enabled.load(std::memory_order_acquire)) return;
  const double ms = static_cast<double>(r.duration.count()) / 1000.0;
  if (g_json.load(std::memory_order_relaxed)) {
    nlohmann::json line = {{"method", r.method}, {"path", r.path},
                           {"route", r.route},   {"upstream", r.upstream},
                           {"status", r.status}, {"bytes", r.bytes},
                           {"duration_ms", ms},  {"request_id", r.request_id},
                           {"peer", r.peer},     {"principal", r.principal}};
    g_access->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    g_access->info("{} \"{} {}\" {} {} {:.3f}ms route={} upstream={} principal={} request_id={}",
                   r.peer, r.method, r.path, r.status, r.bytes, ms, r.route, r.upstream,
                   r.principal, r.request_id);
  }
}

}  // namespace tollgate::server
