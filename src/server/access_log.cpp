#include "access_log.hpp"

#include <atomic>
#include <iterator>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
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

// A value of the text format, written so that it can neither end the line nor pass for another
// field: printable ASCII as it is, except the space, '"' and '\' that delimit fields; every other
// byte as \xNN.
struct TextField {
  std::string_view text;
};

bool kept_as_is(unsigned char c) noexcept {
  return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

}  // namespace
}  // namespace tollgate::server

template <>
struct fmt::formatter<tollgate::server::TextField> {
  constexpr auto parse(format_parse_context& context) { return context.begin(); }

  auto format(const tollgate::server::TextField& field, format_context& context) const {
    constexpr char kHex[] = "0123456789ABCDEF";
    auto out = context.out();
    for (const char ch : field.text) {
      const auto c = static_cast<unsigned char>(ch);
      if (tollgate::server::kept_as_is(c)) {
        *out++ = ch;
      } else {
        for (const char escaped : {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]}) *out++ = escaped;
      }
    }
    return out;
  }
};

namespace tollgate::server {
namespace {

double milliseconds(std::chrono::nanoseconds duration) {
  return static_cast<double>(duration.count()) / 1e6;
}

double seconds(std::chrono::nanoseconds duration) {
  return static_cast<double>(duration.count()) / 1e9;
}

// "-" in a record is "does not apply": null in JSON.
nlohmann::ordered_json text_or_null(std::string_view text) {
  if (text == "-") return nullptr;
  return text;
}

nlohmann::ordered_json seconds_or_null(std::chrono::nanoseconds duration) {
  if (duration.count() <= 0) return nullptr;
  return seconds(duration);
}

// RFC 3339 in UTC with milliseconds: the time the line is written.
std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

// The JSON format's field names are stable (README, "Logs"). It escapes non-ASCII text as \uXXXX
// (and invalid UTF-8 as U+FFFD): U+2028 or U+0085 in a value would end the line for a JavaScript or
// log reader.
std::string json_line(const AccessRecord& r) {
  const nlohmann::ordered_json line = {
      {"time", utc_now()},
      {"request_id", r.request_id},
      {"trace_id", text_or_null(r.trace_id)},
      {"client", r.peer},
      {"method", r.method},
      {"path", text_or_null(r.path)},
      {"status", r.status},
      {"bytes_in", r.bytes_in},
      {"bytes_out", r.bytes_out},
      {"duration", seconds(r.duration)},
      {"route", text_or_null(r.route)},
      {"upstream", text_or_null(r.upstream)},
      {"upstream_target", text_or_null(r.upstream_target)},
      {"upstream_status", r.upstream_status == 0 ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(r.upstream_status)},
      {"upstream_duration", seconds_or_null(r.upstream_duration)},
      {"principal", text_or_null(r.principal)},
      {"cache", text_or_null(r.cache)},
      {"idp_duration", seconds_or_null(r.idp_duration)}};
  return line.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
}

// Into a buffer that holds a usual line without touching the heap.
void write_text_line(const AccessRecord& r, fmt::memory_buffer& out) {
  fmt::format_to(std::back_inserter(out),
                 "{} \"{} {}\" {} {} {:.3f}ms route={} upstream={} principal={} cache={} "
                 "request_id={} trace_id={}",
                 TextField{r.peer}, TextField{r.method}, TextField{r.path}, r.status, r.bytes_out,
                 milliseconds(r.duration), TextField{r.route}, TextField{r.upstream_target},
                 TextField{r.principal}, TextField{r.cache}, TextField{r.request_id},
                 TextField{r.trace_id});
}

}  // namespace

namespace {

// %* in a pattern: the message as the content of a JSON string, printable ASCII (non-ASCII as
// \uXXXX, invalid UTF-8 as U+FFFD), so that a message quoting what a peer sent leaves the line one
// JSON object.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    const std::string quoted =
        nlohmann::json(std::string_view(message.payload.data(), message.payload.size()))
            .dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
    out.append(quoted.data() + 1, quoted.data() + quoted.size() - 1);  // without its quotes
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

void configure_logging(const config::Log& log) {
  spdlog::set_level(spdlog::level::from_str(log.level));
  if (log.format == config::LogFormat::json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","message":"%*"})");
    spdlog::set_formatter(std::move(formatter));
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

std::string format_access_line(const AccessRecord& record, config::LogFormat format) {
  if (format == config::LogFormat::json) return json_line(record);
  fmt::memory_buffer line;
  write_text_line(record, line);
  return fmt::to_string(line);
}

void log_access(const AccessRecord& r) {
  // Acquire: a reload that turns the log on makes g_access first.
  if (!g_enabled.load(std::memory_order_acquire)) return;
  if (g_json.load(std::memory_order_relaxed)) {
    g_access->info(json_line(r));
  } else {
    fmt::memory_buffer line;
    write_text_line(r, line);
    g_access->info(std::string_view(line.data(), line.size()));
  }
}

}  // namespace tollgate::server
