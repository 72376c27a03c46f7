// The loaded configuration: plain, immutable structs built once by load_config(). A reload builds a
// new GatewayConfig; in-flight requests keep the one they started with through shared_ptr.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include "tollgate/config/reader.hpp"

namespace tollgate::filters {
class PluginSettings;
class Filter;
struct PluginType;
}  // namespace tollgate::filters

namespace tollgate::config {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;

struct TlsFiles {
  std::string certificate;  // PEM chain
  std::string key;          // PEM private key
};

struct Listen {
  std::string host;        // numeric address, e.g. "0.0.0.0", "127.0.0.1", "::"
  std::uint16_t port = 0;  // 0 = let the kernel pick (tests); the bound port is logged
  std::optional<TlsFiles> tls;
  // HTTP/2 as well as HTTP/1.1: offered by ALPN on TLS, prior knowledge (h2c) on plain TCP.
  bool http2 = false;
};

struct Admin {
  bool enabled = true;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8001;
  // Bearer token state-changing endpoints (POST /cache/purge) require; empty: none. Without one,
  // they are refused unless the listener is on loopback.
  std::string api_token;
};

enum class LogFormat { text, json };

struct Log {
  std::string level = "info";  // trace | debug | info | warn | error | off
  LogFormat format = LogFormat::text;
  std::string access_log = "stdout";  // stdout | stderr | off | a file path
};

struct Limits {
  std::uint64_t max_header_bytes = 16 * KiB;           // request line + headers → 431
  std::uint64_t max_body_bytes = 10 * MiB;             // request body → 413; 0 = unlimited
  std::uint64_t max_response_header_bytes = 64 * KiB;  // upstream response head → 502
  // HTTP/2 (listeners with http2: true). max_header_bytes bounds a stream's decoded header list.
  std::uint32_t http2_max_concurrent_streams = 128;      // SETTINGS_MAX_CONCURRENT_STREAMS
  std::uint32_t http2_initial_window_size = 65'535;      // SETTINGS_INITIAL_WINDOW_SIZE per stream
  std::uint32_t http2_connection_window_size = 1 * MiB;  // what all streams may send unread
  std::uint32_t http2_max_resets = 100;  // client RST_STREAMs not paid back by answers → GOAWAY
};

struct Timeouts {
  Duration client_header{10'000};  // first byte to end of headers → 408
  Duration client_idle{75'000};    // between keep-alive requests → close
  Duration client_body{60'000};    // between reads of a request body → 408
  Duration client_send{60'000};    // between writes of a response to a slow client → close
  // HTTP/2 with streams open: silent this long → PING; silent as long again → close. 0 = off.
  Duration client_ping{0};
  Duration upstream_connect{3'000};  // → 502 (next target tried)
  Duration upstream_read{60'000};    // between reads of the upstream response → 504
  Duration upstream_send{60'000};    // between writes to the upstream
  Duration shutdown_grace{10'000};   // SIGTERM drain deadline
  Duration websocket_idle{60'000};   // no byte either way through a WebSocket tunnel → close
};

struct Target {
  bool tls = false;
  std::string host;  // name or address, as written
  std::uint16_t port = 0;
  std::string authority;  // "host:port" (port omitted when default), for Host headers
  std::string url;        // as written, for logs
};

enum class Balance { round_robin, least_conn };

// How requests go to an upstream: HTTP/1.1, or HTTP/2 (h2 by ALPN on https targets, h2c by prior
// knowledge on http targets); grpc is HTTP/2 with te: trailers on every request.
enum class Protocol { http1, h2, grpc };

struct Upstream {
  std::string name;
  std::vector<Target> targets;
  Balance balance = Balance::round_robin;
  std::size_t keepalive = 64;       // idle pooled connections per target, per worker
  std::size_t max_connections = 0;  // open per target, per worker; 0 = no bound
  std::size_t max_queued = 128;     // requests waiting for one of max_connections, per target
  Duration fail_timeout{10'000};    // a target that failed to connect is skipped this long
  bool ssl_verify = true;
  std::string ca_file;  // empty = system trust store
  Protocol protocol = Protocol::http1;
  // HTTP/2 connections per target, per worker; a new one opens only when the others carry the
  // streams the upstream allows (its SETTINGS_MAX_CONCURRENT_STREAMS).
  std::size_t h2_max_connections = 2;
};

struct PathMatch {
  std::string path;    // normalised, no trailing slash unless "/"
  bool exact = false;  // "= /x" matches only /x; otherwise a segment-boundary prefix
};

struct HostMatch {
  std::string host;       // lowercase; for wildcards the suffix including the dot: ".example.com"
  bool wildcard = false;  // "*.example.com"
};

struct Route {
  std::string name;
  std::vector<HostMatch> hosts;      // empty = any host
  std::vector<PathMatch> paths;      // empty = "/" prefix
  std::vector<std::string> methods;  // uppercase; empty = any method
  std::size_t upstream = 0;          // index into GatewayConfig::upstreams
  bool strip_path = false;
  bool preserve_host = false;
  bool websocket = false;  // WebSocket handshakes (Upgrade: websocket) are tunnelled, not stripped
  std::vector<std::size_t> plugins;       // indexes into GatewayConfig::plugins, in order
  std::vector<std::string> plugin_names;  // same order, for logs
};

// One entry of `plugins:` as read: its settings are plain values. What runs (IdP clients, pools,
// caches) is built from them by the runtime, and kept across a reload while the fingerprint stays.
struct PluginInstance {
  std::string name;  // the key under `plugins:`
  const filters::PluginType* type = nullptr;
  std::shared_ptr<const filters::PluginSettings> settings;
  // SHA-256 (hex) of the instance's type, its `config:` map after ${ENV} expansion, and the
  // contents of the files it names (secret_file, ca_file): equal when nothing it reads changed.
  std::string fingerprint;
};

// A network in CIDR notation ("10.0.0.0/8", "::1/128"; a bare address is the host alone).
struct Network {
  boost::asio::ip::address address;
  unsigned prefix_length = 0;
  bool contains(const boost::asio::ip::address& peer) const noexcept;
};

struct GatewayConfig {
  std::string source_file;
  std::vector<Listen> listens;
  Admin admin;
  unsigned workers = 1;  // "auto" resolved at load to the number of cores
  Log log;
  Limits limits;
  Timeouts timeouts;
  std::vector<Upstream> upstreams;
  std::vector<PluginInstance> plugins;
  std::vector<Route> routes;
  // Every request header a plugin instance sets (upstream_headers_names, ...), for the gateway's
  // list of headers no client may send.
  std::vector<std::string> plugin_request_headers;
  // Peers whose X-Forwarded-*, Forwarded and X-Real-IP are kept (a load balancer in front), like
  // nginx's set_real_ip_from. Empty: nobody's.
  std::vector<Network> trusted_proxies;
};

// Reads, validates and builds the whole configuration. Errors carry file:line:col and the key path.
boost::system::result<std::shared_ptr<const GatewayConfig>, ConfigError> load_config(
    const std::string& path);

// Same, from text (tests, fuzzing); `file_name` is used in messages.
boost::system::result<std::shared_ptr<const GatewayConfig>, ConfigError> load_config_text(
    const std::string& text, const std::string& file_name);

}  // namespace tollgate::config
