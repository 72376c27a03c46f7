#include "tollgate/http/grpc.hpp"

#include <gtest/gtest.h>

namespace tollgate::http_io {
namespace {

using namespace std::chrono_literals;

TEST(Grpc, ContentTypesThatAreCalls) {
  EXPECT_TRUE(is_grpc("application/grpc"));
  EXPECT_TRUE(is_grpc("application/grpc+proto"));
  EXPECT_TRUE(is_grpc("Application/GRPC+json; charset=utf-8"));
  EXPECT_FALSE(is_grpc("application/grpc-web"));
  EXPECT_FALSE(is_grpc("application/grpc-web+proto"));
  EXPECT_FALSE(is_grpc("application/grpc+"));
  EXPECT_FALSE(is_grpc("application/grpcx"));
  EXPECT_FALSE(is_grpc("application/json"));
  EXPECT_FALSE(is_grpc(""));
}

TEST(Grpc, GatewayStatusesAsGrpcStatuses) {
  EXPECT_EQ(grpc_status_for(401), GrpcStatus::unauthenticated);
  EXPECT_EQ(grpc_status_for(403), GrpcStatus::permission_denied);
  EXPECT_EQ(grpc_status_for(404), GrpcStatus::unimplemented);
  EXPECT_EQ(grpc_status_for(503), GrpcStatus::unavailable);
  EXPECT_EQ(grpc_status_for(502), GrpcStatus::unavailable);
  EXPECT_EQ(grpc_status_for(429), GrpcStatus::unavailable);
  EXPECT_EQ(grpc_status_for(504), GrpcStatus::deadline_exceeded);
  EXPECT_EQ(grpc_status_for(400), GrpcStatus::internal);
  EXPECT_EQ(grpc_status_for(413), GrpcStatus::resource_exhausted);
  EXPECT_EQ(grpc_status_for(431), GrpcStatus::resource_exhausted);
  EXPECT_EQ(grpc_status_for(500), GrpcStatus::unknown);
}

TEST(Grpc, MessagesArePercentEncoded) {
  EXPECT_EQ(grpc_percent_encode("No route"), "No route");
  EXPECT_EQ(grpc_percent_encode("100% sure"), "100%25 sure");
  EXPECT_EQ(grpc_percent_encode("a\nb"), "a%0Ab");
  EXPECT_EQ(grpc_percent_encode("\xc3\xa9t\xc3\xa9"), "%C3%A9t%C3%A9");
}

TEST(Grpc, Timeouts) {
  EXPECT_EQ(parse_grpc_timeout("1H"), 1h);
  EXPECT_EQ(parse_grpc_timeout("2M"), 2min);
  EXPECT_EQ(parse_grpc_timeout("3S"), 3s);
  EXPECT_EQ(parse_grpc_timeout("250m"), 250ms);
  EXPECT_EQ(parse_grpc_timeout("7u"), 7us);
  EXPECT_EQ(parse_grpc_timeout("99999999n"), 99'999'999ns);
  EXPECT_FALSE(parse_grpc_timeout("123456789n"));  // nine digits
  EXPECT_FALSE(parse_grpc_timeout("S"));
  EXPECT_FALSE(parse_grpc_timeout("10"));
  EXPECT_FALSE(parse_grpc_timeout("10x"));
  EXPECT_FALSE(parse_grpc_timeout("-1S"));
}

}  // namespace
}  // namespace tollgate::http_io
