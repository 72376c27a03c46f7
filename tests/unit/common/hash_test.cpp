#include "tollgate/common/hash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

// FIPS 180-2 test vectors.
constexpr const char* kEmptyDigest =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbcDigest =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(HashTest, Sha256MatchesTheStandardVectors) {
  EXPECT_EQ(to_hex(sha256("")), kEmptyDigest);
  EXPECT_EQ(to_hex(sha256("abc")), kAbcDigest);
  EXPECT_EQ(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// RFC 4231 test cases 2 and 6 (a key longer than the block).
TEST(HashTest, HmacSha256MatchesTheStandardVectors) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // The reused context starts afresh with each key.
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HashTest, HexDigestsReadBack) {
  const Sha256 digest = sha256("abc");
  EXPECT_EQ(sha256_from_hex(to_hex(digest)), digest);
  EXPECT_FALSE(sha256_from_hex(std::string(kAbcDigest).substr(1)));  // too short
  EXPECT_FALSE(sha256_from_hex(std::string(kAbcDigest) + "0"));      // too long
  std::string upper = kAbcDigest;
  upper[0] = 'B';
  EXPECT_FALSE(sha256_from_hex(upper));  // only what to_hex writes
  std::string other = kAbcDigest;
  other[5] = 'g';
  EXPECT_FALSE(sha256_from_hex(other));
}

TEST(HashTest, ReusingTheDigestContextGivesIndependentResults) {
  const Sha256 first = sha256("abc");
  sha256(std::string(100'000, 'x'));
  EXPECT_EQ(sha256("abc"), first);
}

TEST(HashTest, ThreadsHashIndependently) {
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&results, i] {
      for (int n = 0; n < 1000; ++n) results[i] = to_hex(sha256(i % 2 ? "abc" : ""));
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i], i % 2 ? kAbcDigest : kEmptyDigest);
  }
}

TEST(HashTest, ShortHashIsTheDigestPrefix) {
  EXPECT_EQ(short_hash("abc"), std::string(kAbcDigest).substr(0, 12));
}

// RFC 4648 §10 vectors, both ways.
TEST(HashTest, Base64RoundTripsTheStandardVectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), plain);
    const std::string unpadded = std::string(encoded).substr(0, std::string(encoded).find('='));
    EXPECT_EQ(base64_decode(unpadded), plain);
    EXPECT_EQ(base64url_decode(unpadded), plain);
  }
}

TEST(HashTest, Base64UrlUsesOnlyTheUrlAlphabetWithoutPadding) {
  const std::string bytes = "\xfb\xff\xbf";
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), bytes);
  EXPECT_FALSE(base64url_decode("+/+/"));
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_EQ(base64_decode("+/+/"), bytes);
  EXPECT_FALSE(base64_decode("-_-_"));
}

TEST(HashTest, Base64DecodeRefusesImpossibleLengthsAndSecondSpellings) {
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zh"));  // "Zg" with leftover bits set
  EXPECT_FALSE(base64_decode("Zg==="));
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("Zm9v\n"));
}

}  // namespace
}  // namespace tollgate
