// gRPC over HTTP/2, as far as a gateway sees it: which requests are gRPC calls, how an answer the
// gateway makes itself reads to a gRPC client, and the grpc-timeout header.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::http_io {

// gRPC's status codes the gateway uses (grpc/doc/statuscodes.md).
enum class GrpcStatus : unsigned {
  ok = 0,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  resource_exhausted = 8,
  permission_denied = 7,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  unauthenticated = 16,
};

// True when a Content-Type names a gRPC call: application/grpc, or application/grpc+<codec>
// (application/grpc+proto, +json), in any case, with or without parameters. gRPC-Web
// (application/grpc-web...) is not: its trailers travel in the body.
bool is_grpc(std::string_view content_type) noexcept;

// The gRPC status an HTTP status the gateway answers with stands for: gRPC's own table
// (doc/http-grpc-status-mapping.md) as Envoy applies it, with 504 as DEADLINE_EXCEEDED and 413 and
// 431 as RESOURCE_EXHAUSTED.
GrpcStatus grpc_status_for(unsigned http_status) noexcept;

// A grpc-message value: percent-encoded as the gRPC spec asks (every byte outside 0x20..0x7e, and
// '%', as %XX; UTF-8 bytes one by one).
std::string grpc_percent_encode(std::string_view message);

// A grpc-timeout value (1 to 8 digits and a unit: H, M, S, m, u, n); nothing when malformed.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) noexcept;

}  // namespace tollgate::http_io
