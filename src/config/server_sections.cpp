// The sections about the gateway process itself: listen, admin, workers, log, limits, timeouts.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <boost/asio/ip/address.hpp>

#include "sections.hpp"

namespace tollgate::config::sections {

namespace {

constexpr unsigned max_workers = 256;

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// "0.0.0.0:8000", "[::]:8000", "127.0.0.1:0". Only numeric addresses: a listener binds, it does
// not resolve names.
std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    bracketed = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec || address.is_v6() != bracketed) return std::nullopt;

  std::uint16_t number = 0;
  auto [end, parse_ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || parse_ec != std::errc{} || end != port.data() + port.size()) {
    return std::nullopt;
  }
  return HostPort{address.to_string(), number};
}

HostPort read_host_port(const Reader& reader) {
  std::string text = reader.string();
  auto parsed = parse_host_port(text);
  if (!parsed) {
    reader.fail(in_quotes(text) +
                " is not an address (expected IP:port, e.g. 0.0.0.0:8000 or [::]:8000)");
  }
  return *parsed;
}

std::string describe(const std::string& host, std::uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

TlsFiles read_tls(const Reader& reader) {
  reader.expect_keys({"certificate", "key"});
  return TlsFiles{readable_file(reader["certificate"]), readable_file(reader["key"])};
}

// A zero timeout would fire before any I/O could complete.
Duration positive_duration(const Reader& reader, Duration fallback) {
  Duration value = reader.duration_or(fallback);
  if (value <= Duration::zero()) reader.fail("must be greater than 0");
  return value;
}

// Beast keeps header limits in 32 bits.
std::uint64_t header_limit(const Reader& reader, std::uint64_t fallback) {
  std::uint64_t value = reader.size_bytes_or(fallback);
  if (value == 0) reader.fail("must be greater than 0");
  if (value > std::numeric_limits<std::uint32_t>::max()) reader.fail("must be less than 4GiB");
  return value;
}

// admin.api_token: a string, ${ENV} or { secret_file: ... }. Long enough not to be guessed, and
// made of the characters a Bearer credential may hold (RFC 6750 §2.1), so it can be sent as one.
std::string read_api_token(const Reader& reader) {
  constexpr std::size_t kMinLength = 16;
  const std::string token = reader.string();
  if (token.size() < kMinLength) {
    reader.fail("must be at least " + std::to_string(kMinLength) +
                " characters (e.g. the output of `openssl rand -hex 32`)");
  }
  const std::size_t padding = token.find_last_not_of('=') + 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                         c == '+' || c == '/' || (c == '=' && i >= padding);
    if (!allowed) {
      reader.fail(
          "may hold only letters, digits and - . _ ~ + / (then = at the end), as a "
          "Bearer token does; character " +
          std::to_string(i + 1) + " is not one");
    }
  }
  return token;
}

}  // namespace

std::string in_quotes(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::vector<Reader> string_items(const Reader& reader) {
  if (!reader.present()) return {};
  if (reader.node().IsSequence()) return reader.items();
  if (reader.node().IsScalar()) return {reader};
  reader.fail("expected a list of strings, not a map");
}

std::string readable_file(const Reader& reader) {
  std::string path = reader.string();
  if (path.empty()) reader.fail("expected a file path, not an empty string");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    reader.fail("cannot read file " + in_quotes(path) + ": it is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) reader.fail("cannot read file " + in_quotes(path) + ": " + std::strerror(errno));
  return path;
}

std::vector<Listen> read_listens(const Reader& section) {
  std::vector<Listen> listens;
  std::vector<Reader> items = section.items();
  if (items.empty()) section.fail("must list at least one address to listen on");
  for (const Reader& item : items) {
    if (item.node().IsScalar()) {
      item.fail("expected a map like { address: " + item.string() + " }, not a plain string");
    }
    item.expect_keys({"address", "tls", "http2"});
    HostPort address = read_host_port(item["address"]);
    for (std::size_t i = 0; i < listens.size(); ++i) {
      if (address.port != 0 && listens[i].host == address.host && listens[i].port == address.port) {
        item["address"].fail(describe(address.host, address.port) + " is already used by listen[" +
                             std::to_string(i) + "]");
      }
    }
    Listen listen{address.host, address.port, std::nullopt};
    if (item["tls"].present()) listen.tls = read_tls(item["tls"]);
    listen.http2 = item["http2"].boolean_or(false);
    listens.push_back(std::move(listen));
  }
  return listens;
}

Admin read_admin(const Reader& section, const std::vector<Listen>& listens) {
  Admin admin;
  if (section.present() && section.node().IsScalar()) {
    // `admin: off` (YAML reads it as the word "off") or `admin: false`.
    const std::string word = section.string();
    if (word == "off" || word == "false") {
      admin.enabled = false;
      return admin;
    }
    section.fail("expected a map with an address, or off, not " + in_quotes(word));
  }
  section.expect_keys({"address", "enabled", "api_token"});
  admin.enabled = section["enabled"].boolean_or(true);
  if (section["address"].present()) {
    HostPort address = read_host_port(section["address"]);
    admin.host = address.host;
    admin.port = address.port;
  }
  if (section["api_token"].present()) admin.api_token = read_api_token(section["api_token"]);
  if (!admin.enabled || admin.port == 0) return admin;
  for (std::size_t i = 0; i < listens.size(); ++i) {
    if (listens[i].host != admin.host || listens[i].port != admin.port) continue;
    const std::string clash =
        describe(admin.host, admin.port) + " is already used by listen[" + std::to_string(i) + "]";
    if (section["address"].present()) section["address"].fail(clash);
    section.fail("the default admin address " + clash + " (set admin.address, or admin: off)");
  }
  return admin;
}

unsigned read_workers(const Reader& section) {
  if (!section.present() || (section.node().IsScalar() && section.string() == "auto")) {
    unsigned cores = std::thread::hardware_concurrency();
    return std::clamp(cores, 1u, max_workers);  // 0 when the count is unknown
  }
  if (!section.node().IsScalar()) section.fail("expected auto or a number from 1 to 256");
  const std::string text = section.string();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > max_workers) {
    section.fail("expected auto or a number from 1 to 256, not " + in_quotes(text));
  }
  return value;
}

Log read_log(const Reader& section) {
  section.expect_keys({"level", "format", "access_log"});
  Log log;
  log.level =
      section["level"].one_of_or(log.level, {"trace", "debug", "info", "warn", "error", "off"});
  log.format = section["format"].one_of_or("text", {"text", "json"}) == "json" ? LogFormat::json
                                                                               : LogFormat::text;
  log.access_log = section["access_log"].string_or(log.access_log);
  if (log.access_log.empty()) {
    section["access_log"].fail("expected stdout, stderr, off or a file path, not an empty string");
  }
  return log;
}

Limits read_limits(const Reader& section) {
  section.expect_keys({"max_header_bytes", "max_body_bytes", "max_response_header_bytes",
                       "http2_max_concurrent_streams", "http2_initial_window_size",
                       "http2_connection_window_size", "http2_max_resets"});
  Limits limits;
  limits.max_header_bytes = header_limit(section["max_header_bytes"], limits.max_header_bytes);
  limits.max_body_bytes = section["max_body_bytes"].size_bytes_or(limits.max_body_bytes);
  limits.max_response_header_bytes =
      header_limit(section["max_response_header_bytes"], limits.max_response_header_bytes);
  limits.http2_max_concurrent_streams =
      static_cast<std::uint32_t>(section["http2_max_concurrent_streams"].integer_or(
          limits.http2_max_concurrent_streams, 1, 65'536));
  // RFC 9113 §6.5.2: a window is at most 2^31-1 bytes; below 1 KiB every DATA frame stalls.
  const std::uint64_t window =
      section["http2_initial_window_size"].size_bytes_or(limits.http2_initial_window_size);
  if (window < 1024 || window > 0x7fffffff) {
    section["http2_initial_window_size"].fail("must be from 1KiB to 2147483647 bytes");
  }
  limits.http2_initial_window_size = static_cast<std::uint32_t>(window);
  // The connection's window starts at 65,535 (RFC 9113 §6.9.2) and can only grow.
  const std::uint64_t connection_window =
      section["http2_connection_window_size"].size_bytes_or(limits.http2_connection_window_size);
  if (connection_window < 65'535 || connection_window > 0x7fffffff) {
    section["http2_connection_window_size"].fail("must be from 65535 to 2147483647 bytes");
  }
  limits.http2_connection_window_size = static_cast<std::uint32_t>(connection_window);
  limits.http2_max_resets = static_cast<std::uint32_t>(
      section["http2_max_resets"].integer_or(limits.http2_max_resets, 1, 1'000'000));
  return limits;
}

Timeouts read_timeouts(const Reader& section) {
  section.expect_keys({"client_header", "client_idle", "client_body", "client_send", "client_ping",
                       "upstream_connect", "upstream_read", "upstream_send", "shutdown_grace",
                       "websocket_idle"});
  Timeouts t;
  t.client_header = positive_duration(section["client_header"], t.client_header);
  t.client_idle = positive_duration(section["client_idle"], t.client_idle);
  t.client_body = positive_duration(section["client_body"], t.client_body);
  t.client_send = positive_duration(section["client_send"], t.client_send);
  t.client_ping = section["client_ping"].duration_or(t.client_ping);  // 0: no PING
  t.upstream_connect = positive_duration(section["upstream_connect"], t.upstream_connect);
  t.upstream_read = positive_duration(section["upstream_read"], t.upstream_read);
  t.upstream_send = positive_duration(section["upstream_send"], t.upstream_send);
  t.shutdown_grace = section["shutdown_grace"].duration_or(t.shutdown_grace);  // 0: stop at once
  t.websocket_idle = positive_duration(section["websocket_idle"], t.websocket_idle);
  return t;
}

}  // namespace tollgate::config::sections

namespace tollgate::config {

bool Network::contains(const boost::asio::ip::address& peer_address) const noexcept {
  boost::asio::ip::address peer = peer_address;
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    peer = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6());
  }
  if (peer.is_v4() != address.is_v4()) return false;
  const auto compare = [this](const auto& a, const auto& b) {
    unsigned bits = prefix_length;
    for (std::size_t i = 0; i < a.size() && bits > 0; ++i) {
      const unsigned take = bits >= 8 ? 8 : bits;
      const auto mask = static_cast<unsigned char>(0xff << (8 - take));
      if ((a[i] & mask) != (b[i] & mask)) return false;
      bits -= take;
    }
    return true;
  };
  return peer.is_v4() ? compare(peer.to_v4().to_bytes(), address.to_v4().to_bytes())
                      : compare(peer.to_v6().to_bytes(), address.to_v6().to_bytes());
}

namespace sections {

std::vector<Network> read_trusted_proxies(const Reader& section) {
  std::vector<Network> networks;
  for (const Reader& item : string_items(section)) {
    const std::string text = item.string();
    const std::size_t slash = text.find('/');
    boost::system::error_code ec;
    Network network;
    network.address = boost::asio::ip::make_address(text.substr(0, slash), ec);
    if (ec) {
      item.fail(in_quotes(text) + " is not an IP address or a network like 10.0.0.0/8");
    }
    const unsigned max_length = network.address.is_v4() ? 32 : 128;
    network.prefix_length = max_length;
    if (slash != std::string::npos) {
      const std::string_view length = std::string_view(text).substr(slash + 1);
      unsigned value = 0;
      const auto [end, error] =
          std::from_chars(length.data(), length.data() + length.size(), value);
      if (length.empty() || error != std::errc() || end != length.data() + length.size() ||
          value > max_length) {
        item.fail(in_quotes(text) + " has an invalid prefix length (0 to " +
                  std::to_string(max_length) + ")");
      }
      network.prefix_length = value;
    }
    networks.push_back(network);
  }
  return networks;
}

}  // namespace sections
}  // namespace tollgate::config
