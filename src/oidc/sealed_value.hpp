// Values the cluster cache keeps in Redis, encrypted and authenticated with AES-256-GCM:
//   version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes, random) | ciphertext | tag (16 bytes)
// The Redis key is the additional authenticated data, so a value copied under another key does
// not open. The key id names the key that sealed it, so keys can rotate: the first key seals, every
// key listed opens.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::oidc {

using SealingKey = std::array<unsigned char, 32>;

class Sealer {
 public:
  // `keys` must not be empty; keys[0] seals.
  explicit Sealer(std::vector<SealingKey> keys);

  std::string seal(std::string_view associated, std::string_view plaintext) const;
  // nullopt when the value is not one this process can open and authenticate.
  std::optional<std::string> open(std::string_view associated, std::string_view sealed) const;

  // The id a key goes by in sealed values: the first 4 bytes of a SHA-256 over it.
  static std::uint32_t id_of(const SealingKey& key);

 private:
  struct Key {
    SealingKey bytes;
    std::uint32_t id;
  };
  std::vector<Key> keys_;
};

}  // namespace tollgate::oidc
