#include "access_log.hpp"

#include <atomic>
#include <iterator>

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

double milliseconds(std::chrono::microseconds duration) {
  return static_cast<double>(duration.count()) / 1000.0;
}

// The JSON format escapes non-ASCII text as \uXXXX (and invalid UTF-8 as U+FFFD): U+2028 or
// U+0085 in a value would end the line for a JavaScript or log reader.
std::string json_line(const AccessRecord& r) {
  const nlohmann::json line = {{"method", r.method},
                               {"path", r.path},
                               {"route", r.route},
                               {"upstream", r.upstream},
                               {"status", r.status},
                               {"bytes", r.bytes},
                               {"duration_ms", milliseconds(r.duration)},
                               {"request_id", r.request_id},
                               {"trace_id", r.trace_id},
                               {"peer", r.peer},
                               {"principal", r.principal}};
  return line.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
}

// Into a buffer that holds a usual line without touching the heap.
void write_text_line(const AccessRecord& r, fmt::memory_buffer& out) {
  fmt::format_to(std::back_inserter(out),
                 "{} \"{} {}\" {} {} {:.3f}ms route={} upstream={} principal={} request_id={} "
                 "trace_id={}",
                 TextField{r.peer}, TextField{r.method}, TextField{r.path}, r.status, r.bytes,
                 milliseconds(r.duration), TextField{r.route}, TextField{r.upstream},
                 TextField{r.principal}, TextField{r.request_id}, TextField{r.trace_id});
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
