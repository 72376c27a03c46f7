#include "tollgate/common/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>

namespace tollgate {
namespace {

// OpenSSL 3 looks the algorithm up again on every one-shot SHA256() call, which costs several
// times the hash of a short input. Every cached request hashes its token, so the algorithm is
// fetched once and each thread reuses one digest context.
const EVP_MD* sha256_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (!md) throw std::runtime_error("OpenSSL has no SHA2-256");
  return md;
}

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

EVP_MD_CTX* thread_digest_context() {
  thread_local const std::unique_ptr<EVP_MD_CTX, DigestContextDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

// The same for HMAC: the MAC is fetched once, and each thread reuses one context (a purge
// compares many claims under one key).
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  return mac;
}

struct MacContextDeleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};

EVP_MAC_CTX* thread_mac_context() {
  thread_local const std::unique_ptr<EVP_MAC_CTX, MacContextDeleter> ctx(
      EVP_MAC_CTX_new(hmac_algorithm()));
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

constexpr std::array<std::int8_t, 256> make_decode_table(std::string_view alphabet) {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr auto kBase64Table =
    make_decode_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
constexpr auto kBase64UrlTable =
    make_decode_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

// Unpadded text in the alphabet `table` was made from. Leftover bits that are not zero mean a
// second spelling of the same bytes, refused so every value has exactly one encoding.
std::optional<std::string> decode_unpadded(std::string_view text,
                                           const std::array<std::int8_t, 256>& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  EVP_MD_CTX* ctx = thread_digest_context();
  unsigned int size = 0;
  if (!EVP_DigestInit_ex2(ctx, sha256_algorithm(), nullptr) ||
      !EVP_DigestUpdate(ctx, data.data(), data.size()) ||
      !EVP_DigestFinal_ex(ctx, out.data(), &size) || size != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

std::array<unsigned char, 20> sha1(std::string_view data) {
  std::array<unsigned char, 20> digest{};
  unsigned int size = 0;
  if (!EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha1(), nullptr) ||
      size != digest.size()) {
    throw std::runtime_error("SHA-1 failed");
  }
  return digest;
}

Sha256 hmac_sha256(std::string_view key, std::string_view data) {
  Sha256 out{};
  EVP_MAC_CTX* ctx = thread_mac_context();
  char digest[] = "SHA2-256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  std::size_t size = 0;
  if (!EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) ||
      !EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ||
      !EVP_MAC_final(ctx, out.data(), &size, out.size()) || size != out.size()) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  return out;
}

std::string to_hex(const Sha256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::optional<Sha256> sha256_from_hex(std::string_view hex) {
  Sha256 out{};
  if (hex.size() != 2 * out.size()) return std::nullopt;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    unsigned nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      nibble = static_cast<unsigned>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    out[i / 2] = static_cast<unsigned char>(out[i / 2] | (i % 2 == 0 ? nibble << 4 : nibble));
  }
  return out;
}

std::string short_hash(std::string_view secret) {
  return to_hex(sha256(secret)).substr(0, 12);
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out = base64_encode(data);
  for (char& c : out) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 == 0 && text.ends_with("==")) {
    text.remove_suffix(2);
  } else if (text.size() % 4 == 0 && text.ends_with("=")) {
    text.remove_suffix(1);
  }
  return decode_unpadded(text, kBase64Table);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode_unpadded(text, kBase64UrlTable);
}

}  // namespace tollgate
