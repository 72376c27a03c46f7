// The path normaliser (routing/path.cpp). The input is a request-target as a client sends it, and
// also a Host header. Routes are chosen on the normalised path and that path is what the upstream
// receives, so it must be canonical: one spelling per resource, nothing an upstream could resolve
// differently (dot segments, empty segments, escapes of unreserved characters), and normalising it
// again must change nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/routing/path.hpp"

namespace {

using tollgate::routing::normalise_host;
using tollgate::routing::normalise_target;
using tollgate::routing::without_path_parameters;

bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'A' + 10;
}

// Starts with '/', no "//", no "." or ".." segment, nothing a servlet container reads as a dot
// segment (".;x", "..;x"), no raw byte that ends or splits a request-target, and every escape in
// canonical form: uppercase hex, never an unreserved character, never a separator or control.
void check_canonical_path(std::string_view path) {
  FUZZ_CHECK(!path.empty() && path.front() == '/', path);
  FUZZ_CHECK(path.find("//") == std::string_view::npos, path);
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    FUZZ_CHECK(segment != "." && segment != "..", path);
    FUZZ_CHECK(!segment.starts_with(".;") && !segment.starts_with("..;"), path);
    start = end + 1;
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    FUZZ_CHECK(c > 0x20 && c < 0x7f, path);
    FUZZ_CHECK(c != '?' && c != '#' && c != '\\', path);
    if (c != '%') continue;
    FUZZ_CHECK(i + 2 < path.size() && is_upper_hex(path[i + 1]) && is_upper_hex(path[i + 2]), path);
    const int decoded = hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]);
    FUZZ_CHECK(!is_unreserved(static_cast<char>(decoded)), path);
    FUZZ_CHECK(decoded >= 0x20 && decoded != 0x7f && decoded != '/' && decoded != '\\', path);
    i += 2;
  }
}

void check_query(std::string_view query) {
  for (const char ch : query) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '#', query);
  }
}

void check_target(std::string_view target) {
  std::string authority;
  auto normalised = normalise_target(target, &authority);
  if (!normalised) {
    FUZZ_CHECK(normalised.error() == make_error_code(tollgate::errc::bad_path), target);
    return;
  }
  check_canonical_path(normalised->path);
  check_query(normalised->query);
  FUZZ_CHECK(target.starts_with('/') == authority.empty(), target);

  // Normalising what is forwarded gives it back unchanged.
  std::string forwarded = normalised->path;
  if (!normalised->query.empty()) forwarded += '?' + normalised->query;
  auto again = normalise_target(forwarded);
  FUZZ_CHECK(again.has_value(), forwarded);
  FUZZ_CHECK(again->path == normalised->path && again->query == normalised->query, forwarded);

  // The servlet-style reading used for ';' parameters stays canonical too.
  const std::string plain = without_path_parameters(normalised->path);
  FUZZ_CHECK(!plain.empty() && plain.front() == '/', plain);
  FUZZ_CHECK(plain.find("//") == std::string::npos, plain);
  FUZZ_CHECK(plain.find(';') == std::string::npos, plain);
  FUZZ_CHECK(without_path_parameters(plain) == plain, plain);
}

// A host that routes is lowercase, bounded, made of host characters, and stable.
void check_host(std::string_view header) {
  const std::string host = normalise_host(header);
  if (host.empty()) return;
  FUZZ_CHECK(host.size() <= 255 + 2, host);  // a name, or "[v6 address]"
  for (const char c : host) {
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), host);
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                   c == '_' || c == '[' || c == ']' || c == ':',
               host);
  }
  FUZZ_CHECK(host.back() != '.', host);
  FUZZ_CHECK(normalise_host(host) == host, host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tollgate::fuzz::as_text(data, size);
  check_target(input);
  check_host(input);
  return 0;
}
