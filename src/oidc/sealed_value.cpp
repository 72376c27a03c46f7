#include "sealed_value.hpp"

#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tollgate/common/hash.hpp"

namespace tollgate::oidc {
namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kIdBytes = 4;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kHeaderBytes = 1 + kIdBytes + kNonceBytes;

struct CipherDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}
unsigned char* bytes(std::string& text, std::size_t at) {
  return reinterpret_cast<unsigned char*>(text.data() + at);
}

}  // namespace

Sealer::Sealer(std::vector<SealingKey> keys) {
  if (keys.empty()) throw std::invalid_argument("cluster cache: no key");
  for (const SealingKey& key : keys) keys_.push_back({key, id_of(key)});
}

std::uint32_t Sealer::id_of(const SealingKey& key) {
  const Sha256 digest = sha256(std::string("tollgate cluster cache key id\n") +
                               std::string(reinterpret_cast<const char*>(key.data()), key.size()));
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | digest[3];
}

std::string Sealer::seal(std::string_view associated, std::string_view plaintext) const {
  const Key& key = keys_.front();
  std::string out(kHeaderBytes + plaintext.size() + kTagBytes, '\0');
  out[0] = static_cast<char>(kVersion);
  for (std::size_t i = 0; i < kIdBytes; ++i) {
    out[1 + i] = static_cast<char>((key.id >> (8 * (kIdBytes - 1 - i))) & 0xff);
  }
  if (RAND_bytes(bytes(out, 1 + kIdBytes), kNonceBytes) != 1) {
    throw std::runtime_error("cluster cache: no random nonce");
  }
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                         bytes(out, 1 + kIdBytes)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes(associated),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out, kHeaderBytes), &length, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out, kHeaderBytes + length), &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          bytes(out, kHeaderBytes + plaintext.size())) != 1) {
    throw std::runtime_error("cluster cache: AES-256-GCM failed");
  }
  return out;
}

std::optional<std::string> Sealer::open(std::string_view associated,
                                        std::string_view sealed) const {
  if (sealed.size() < kHeaderBytes + kTagBytes ||
      static_cast<unsigned char>(sealed[0]) != kVersion) {
    return std::nullopt;
  }
  std::uint32_t id = 0;
  for (std::size_t i = 0; i < kIdBytes; ++i)
    id = (id << 8) | static_cast<unsigned char>(sealed[1 + i]);
  const Key* key = nullptr;
  for (const Key& candidate : keys_) {
    if (candidate.id == id) key = &candidate;
  }
  if (key == nullptr) return std::nullopt;

  const std::size_t cipher_size = sealed.size() - kHeaderBytes - kTagBytes;
  std::string plaintext(cipher_size, '\0');
  std::array<unsigned char, kTagBytes> tag;
  std::copy_n(bytes(sealed) + kHeaderBytes + cipher_size, kTagBytes, tag.begin());
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key->bytes.data(),
                         bytes(sealed) + 1 + kIdBytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes(associated),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plaintext, 0), &length, bytes(sealed) + kHeaderBytes,
                        static_cast<int>(cipher_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(plaintext, 0) + length, &final_length) != 1) {
    return std::nullopt;  // not authentic: a tampered value, a foreign key, another Redis key
  }
  return plaintext;
}

}  // namespace tollgate::oidc
