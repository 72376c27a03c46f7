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

}  // namespace
}  // namespace tollgate
