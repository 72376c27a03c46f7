#include "tollgate/http/grpc.hpp"

#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {

bool is_grpc(std::string_view content_type) noexcept {
  constexpr std::string_view kGrpc = "application/grpc";
  const std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
  if (type.size() < kGrpc.size() || !iequals(type.substr(0, kGrpc.size()), kGrpc)) return false;
  return type.size() == kGrpc.size() ||
         (type[kGrpc.size()] == '+' && type.size() > kGrpc.size() + 1);
}

GrpcStatus grpc_status_for(unsigned http_status) noexcept {
  switch (http_status) {
    case 200:
      return GrpcStatus::ok;
    case 400:
      return GrpcStatus::internal;
    case 401:
      return GrpcStatus::unauthenticated;
    case 403:
      return GrpcStatus::permission_denied;
    case 404:
      return GrpcStatus::unimplemented;
    case 413:
    case 431:
      return GrpcStatus::resource_exhausted;
    case 429:
    case 502:
    case 503:
      return GrpcStatus::unavailable;
    case 408:
    case 504:
      return GrpcStatus::deadline_exceeded;
    default:
      return GrpcStatus::unknown;
  }
}

std::string grpc_percent_encode(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte >= 0x20 && byte <= 0x7e && byte != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) noexcept {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  std::int64_t amount = 0;
  for (const char ch : value.substr(0, value.size() - 1)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    amount = amount * 10 + (ch - '0');
  }
  using namespace std::chrono;
  switch (value.back()) {
    case 'H':
      return duration_cast<nanoseconds>(hours(amount));
    case 'M':
      return duration_cast<nanoseconds>(minutes(amount));
    case 'S':
      return duration_cast<nanoseconds>(seconds(amount));
    case 'm':
      return duration_cast<nanoseconds>(milliseconds(amount));
    case 'u':
      return duration_cast<nanoseconds>(microseconds(amount));
    case 'n':
      return nanoseconds(amount);
    default:
      return std::nullopt;
  }
}

}  // namespace tollgate::http_io
