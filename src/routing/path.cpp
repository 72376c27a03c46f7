// Request-target normalisation. One pass over the target, writing straight into the output string:
// every segment is decoded into place, then dropped, popped or kept depending on what it turned out
// to be. The rules are deliberately strict: anything two HTTP implementations could read
// differently (encoded separators, NUL, control characters, "..;" segments) is refused instead of
// guessed at.
#include "tollgate/routing/path.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>

#include "tollgate/common/error.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::routing {
namespace {

using boost::system::result;

constexpr char kUpperHex[] = "0123456789ABCDEF";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_alpha(unsigned char c) noexcept {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool is_digit(unsigned char c) noexcept {
  return c >= '0' && c <= '9';
}

// RFC 3986 unreserved: the only characters whose percent-encoding is pure noise.
bool is_unreserved(unsigned char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_sub_delim(unsigned char c) noexcept {
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// RFC 3986 pchar without pct-encoded: kept as is in a segment.
bool is_raw_pchar(unsigned char c) noexcept {
  return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}

// C0 controls and DEL; a raw space is refused along with them (it ends the request-target).
bool is_control_or_space(unsigned char c) noexcept {
  return c <= 0x20 || c == 0x7f;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return http_io::iequals(s.substr(0, prefix.size()), prefix);
}

void append_encoded(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kUpperHex[c >> 4]);
  out.push_back(kUpperHex[c & 0xf]);
}

boost::system::error_code bad_path() noexcept {
  return make_error_code(errc::bad_path);
}

}  // namespace

std::optional<SegmentFault> append_normalised_segment(std::string_view segment, std::string& out) {
  using Kind = SegmentFault::Kind;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const auto c = static_cast<unsigned char>(segment[i]);
    if (c == '%') {
      if (i + 2 >= segment.size()) return SegmentFault{Kind::invalid_escape, i};
      const int hi = hex_value(segment[i + 1]);
      const int lo = hex_value(segment[i + 2]);
      if (hi < 0 || lo < 0) return SegmentFault{Kind::invalid_escape, i};
      const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      // An encoded separator or NUL is read as a separator by some upstreams and not by others;
      // encoded control characters end up in logs and redirects as CR/LF injection.
      if (decoded == '/' || decoded == '\\' || decoded < 0x20 || decoded == 0x7f) {
        return SegmentFault{Kind::encoded_separator, i};
      }
      if (is_unreserved(decoded)) {
        out.push_back(static_cast<char>(decoded));
      } else {
        append_encoded(out, decoded);
      }
      i += 2;
    } else if (is_raw_pchar(c)) {
      out.push_back(static_cast<char>(c));
    } else if (is_control_or_space(c) || c == '\\' || c == '#') {
      return SegmentFault{Kind::forbidden_character, i};
    } else {
      append_encoded(out, c);
    }
  }
  return std::nullopt;
}

namespace {

// Resolves '.', '..' and empty segments while copying `path` (which starts with '/') into `out`.
bool normalise_path(std::string_view path, std::string& out) {
  bool trailing_slash = false;
  std::size_t pos = 1;  // past the leading '/'
  for (;;) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view segment = path.substr(pos, end - pos);
    const bool last = end == path.size();

    const std::size_t segment_start = out.size();
    if (segment.empty()) {
      trailing_slash = last;  // "//" is merged; a final '/' is kept
    } else {
      out.push_back('/');
      if (append_normalised_segment(segment, out)) return false;
      const std::string_view decoded = std::string_view(out).substr(segment_start + 1);
      if (decoded == ".") {
        out.resize(segment_start);
        trailing_slash = last;
      } else if (decoded == "..") {
        if (segment_start == 0) return false;  // climbs above the root
        out.resize(out.rfind('/', segment_start - 1));
        trailing_slash = last;
      } else if (decoded.starts_with(".;") || decoded.starts_with("..;")) {
        // Servlet containers strip ';' parameters before resolving dots, so "/public/..;/admin" is
        // "/admin" to them while it is under "/public" to us. Refuse rather than disagree.
        return false;
      } else {
        trailing_slash = false;
      }
    }
    if (last) break;
    pos = end + 1;
  }
  if (out.empty() || trailing_slash) out.push_back('/');
  return true;
}

// The query is forwarded as sent; it only has to be unambiguous: no control characters, spaces or
// fragments, and every '%' followed by two hex digits.
bool valid_query(std::string_view query) noexcept {
  for (std::size_t i = 0; i < query.size(); ++i) {
    const auto c = static_cast<unsigned char>(query[i]);
    if (is_control_or_space(c) || c == '#') return false;
    if (c == '%') {
      if (i + 2 >= query.size() || hex_value(query[i + 1]) < 0 || hex_value(query[i + 2]) < 0) {
        return false;
      }
      i += 2;
    }
  }
  return true;
}

// RFC 3986 authority characters, minus '@': userinfo in a request-target is only ever an attack.
bool valid_authority(std::string_view authority) noexcept {
  if (authority.empty()) return false;
  for (const char ch : authority) {
    const auto c = static_cast<unsigned char>(ch);
    if (!(is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '[' || c == ']' || c == '%')) {
      return false;
    }
  }
  return true;
}

}  // namespace

result<NormalisedTarget> normalise_target(std::string_view target, std::string* authority) {
  // Absolute-form (RFC 9112 3.2.2): "http://authority/path?query". The authority is handed back;
  // what follows it is an origin-form target, with an empty path meaning "/".
  std::string_view origin = target;
  if (starts_with_icase(target, "http://") || starts_with_icase(target, "https://")) {
    const std::size_t authority_start = target.find("://") + 3;
    const std::size_t authority_end =
        std::min(target.find_first_of("/?#", authority_start), target.size());
    const std::string_view host = target.substr(authority_start, authority_end - authority_start);
    if (!valid_authority(host)) return bad_path();
    if (authority != nullptr) authority->assign(host);
    origin = target.substr(authority_end);
    if (origin.empty() || origin.front() == '?') {
      NormalisedTarget out{"/", {}};
      if (!origin.empty()) {
        if (!valid_query(origin.substr(1))) return bad_path();
        out.query.assign(origin.substr(1));
      }
      return out;
    }
  }
  // Origin-form only from here; this also refuses "*" (OPTIONS *), which no route can serve.
  if (origin.empty() || origin.front() != '/') return bad_path();

  const std::size_t question = origin.find('?');
  const std::string_view raw_path = origin.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view{} : origin.substr(question + 1);

  NormalisedTarget out;
  out.path.reserve(raw_path.size() + 1);
  if (!normalise_path(raw_path, out.path)) return bad_path();
  if (!valid_query(raw_query)) return bad_path();
  out.query.assign(raw_query);
  return out;
}

std::string without_path_parameters(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  std::size_t pos = 0;  // at a '/'
  while (pos < path.size()) {
    const std::size_t end = std::min(path.find('/', pos + 1), path.size());
    std::string_view segment = path.substr(pos + 1, end - pos - 1);
    segment = segment.substr(0, segment.find(';'));
    if (!segment.empty()) {
      out.push_back('/');
      out.append(segment);
    } else if (end == path.size()) {
      out.push_back('/');  // a final '/' stays
    }
    pos = end;
  }
  if (out.empty()) out.push_back('/');
  return out;
}

namespace {

bool is_host_char(unsigned char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

bool valid_port(std::string_view port) noexcept {
  // RFC 3986 allows an empty port ("host:"); it means the default.
  if (port.size() > 5) return false;
  std::uint32_t value = 0;
  for (const char c : port) {
    if (!is_digit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return value <= 65535;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return out;
}

// "[v6]" or "[v6]:port" → "[v6]" lowercased. No zone ids: they have no meaning to a remote server.
std::string normalise_ipv6_host(std::string_view host_header) {
  const std::size_t close = host_header.find(']');
  if (close == std::string_view::npos || close < 3) return {};
  const std::string_view rest = host_header.substr(close + 1);
  if (!rest.empty() && (rest.front() != ':' || !valid_port(rest.substr(1)))) return {};
  const std::string_view address = host_header.substr(1, close - 1);
  for (const char ch : address) {
    const auto c = static_cast<unsigned char>(ch);
    if (!(is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == ':' || c == '.')) {
      return {};  // this also keeps a NUL from ending the text inet_pton reads
    }
  }
  // The characters alone also make "[1:2:3]" or a 300-character "[::1111...]": the address must
  // parse as one.
  in6_addr parsed{};
  if (address.size() >= INET6_ADDRSTRLEN ||
      inet_pton(AF_INET6, std::string(address).c_str(), &parsed) != 1) {
    return {};
  }
  return lowercase(host_header.substr(0, close + 1));
}

}  // namespace

std::string normalise_host(std::string_view host_header) {
  constexpr std::size_t kMaxHostLength = 255;  // RFC 1035
  if (host_header.empty()) return {};
  if (host_header.front() == '[') return normalise_ipv6_host(host_header);

  std::string_view host = host_header;
  if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    if (!valid_port(host.substr(colon + 1))) return {};  // also refuses a second ':'
    host = host.substr(0, colon);
  }
  // "example.com." is the same name as "example.com" (nginx drops the dot too); without this a
  // client could step around a host-bound route.
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxHostLength) return {};

  char previous = '.';  // a leading '.' counts as an empty label
  for (const char ch : host) {
    if (!is_host_char(static_cast<unsigned char>(ch))) return {};
    if (ch == '.' && previous == '.') return {};  // empty label
    previous = ch;
  }
  // Only one trailing dot is the root: "example.com.." ends in an empty label, and would otherwise
  // come out as "example.com.", a name no route is bound to.
  if (previous == '.') return {};
  return lowercase(host);
}

std::string normalise_authority(std::string_view host_header) {
  std::string authority = normalise_host(host_header);
  if (!authority.empty()) authority.append(port_suffix(host_header));
  return authority;
}

std::string_view port_suffix(std::string_view valid_host_header) noexcept {
  if (valid_host_header.empty()) return {};
  // Valid, so the port is whatever follows the ':' after the host ("host:" has an empty one).
  const std::size_t port_colon =
      valid_host_header.front() == '['
          ? valid_host_header.find(']') + 1
          : std::min(valid_host_header.find(':'), valid_host_header.size());
  if (port_colon + 1 >= valid_host_header.size()) return {};
  return valid_host_header.substr(port_colon);
}

}  // namespace tollgate::routing
