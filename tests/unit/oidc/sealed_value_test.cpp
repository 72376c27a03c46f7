// AES-256-GCM values of the cluster cache: they open only under the Redis key they were sealed
// for, with a key this process holds, and unaltered.
#include "oidc/sealed_value.hpp"

#include <gtest/gtest.h>

namespace tollgate::oidc {
namespace {

SealingKey key_of(unsigned char fill) {
  SealingKey key;
  key.fill(fill);
  return key;
}

TEST(SealedValue, OpensWhatItSealedAndHidesThePlaintext) {
  const Sealer sealer({key_of(1)});
  const std::string sealed = sealer.seal("tollgate:tok:ab", R"({"active":true,"sub":"alice"})");
  EXPECT_EQ(sealed.find("alice"), std::string::npos);
  EXPECT_EQ(sealer.open("tollgate:tok:ab", sealed), R"({"active":true,"sub":"alice"})");
  // A fresh nonce each time: the same answer never seals to the same bytes.
  EXPECT_NE(sealer.seal("tollgate:tok:ab", "x"), sealer.seal("tollgate:tok:ab", "x"));
}

TEST(SealedValue, RefusesATamperedValueAnotherKeysNameOrAForeignKey) {
  const Sealer sealer({key_of(1)});
  const std::string sealed = sealer.seal("tollgate:tok:ab", "answer");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x40);
    EXPECT_FALSE(sealer.open("tollgate:tok:ab", tampered)) << "byte " << i;
  }
  EXPECT_FALSE(sealer.open("tollgate:tok:cd", sealed));  // copied under another key
  EXPECT_FALSE(sealer.open("tollgate:tok:ab", sealed.substr(0, sealed.size() - 1)));
  EXPECT_FALSE(sealer.open("tollgate:tok:ab", ""));
  EXPECT_FALSE(Sealer({key_of(2)}).open("tollgate:tok:ab", sealed));
}

TEST(SealedValue, KeysRotate) {
  const Sealer old_only({key_of(1)});
  const Sealer rotated({key_of(2), key_of(1)});  // the new key seals; the old one still opens
  const std::string before = old_only.seal("k", "old");
  const std::string after = rotated.seal("k", "new");
  EXPECT_EQ(rotated.open("k", before), "old");
  EXPECT_EQ(rotated.open("k", after), "new");
  EXPECT_FALSE(old_only.open("k", after));
  EXPECT_NE(Sealer::id_of(key_of(1)), Sealer::id_of(key_of(2)));
}

}  // namespace
}  // namespace tollgate::oidc
