#include "tollgate/oidc/verified_jwt_cache.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tollgate::oidc {
namespace {

IntrospectionPtr claims_of(const std::string& sub) {
  return Introspection::create(/*active=*/true, nlohmann::json{{"sub", sub}});
}

TEST(VerifiedJwtCacheTest, ARememberedTokenIsFoundUnderTheSameKeys) {
  const VerifiedJwtCache cache(2);
  const Sha256 digest = sha256("token-a");
  EXPECT_EQ(cache.find(0, digest, 1), nullptr);
  cache.remember(0, digest, 1, claims_of("alice"));
  const Introspection* hit = cache.find(0, digest, 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_TRUE(hit->active);
}

TEST(VerifiedJwtCacheTest, AnotherKeySetVersionIsAMiss) {
  const VerifiedJwtCache cache(1);
  const Sha256 digest = sha256("token-a");
  cache.remember(0, digest, 1, claims_of("alice"));
  EXPECT_EQ(cache.find(0, digest, 2), nullptr);
}

TEST(VerifiedJwtCacheTest, WorkersDoNotSeeEachOthersEntries) {
  const VerifiedJwtCache cache(2);
  const Sha256 digest = sha256("token-a");
  cache.remember(0, digest, 1, claims_of("alice"));
  EXPECT_EQ(cache.find(1, digest, 1), nullptr);
  EXPECT_EQ(cache.find(7, digest, 1), nullptr);  // no such worker
}

TEST(VerifiedJwtCacheTest, ATokenSharingASlotDisplacesTheOtherAndNeverAnswersForIt) {
  const VerifiedJwtCache cache(1);
  // Two digests that differ only past the bits that pick the slot.
  Sha256 first = sha256("token-a");
  Sha256 second = first;
  second[31] ^= 0x01;
  cache.remember(0, first, 1, claims_of("alice"));
  EXPECT_EQ(cache.find(0, second, 1), nullptr);
  cache.remember(0, second, 1, claims_of("bob"));
  EXPECT_EQ(cache.find(0, first, 1), nullptr);
  ASSERT_NE(cache.find(0, second, 1), nullptr);
}

TEST(VerifiedJwtCacheTest, ReleasingAWorkerDropsItsEntries) {
  const VerifiedJwtCache cache(1);
  const Sha256 digest = sha256("token-a");
  IntrospectionPtr claims = claims_of("alice");
  cache.remember(0, digest, 1, claims);
  cache.release_worker(0);
  EXPECT_EQ(cache.find(0, digest, 1), nullptr);
}

}  // namespace
}  // namespace tollgate::oidc
