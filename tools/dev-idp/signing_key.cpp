#include "signing_key.hpp"

#include <stdexcept>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tollgate/common/hash.hpp"

namespace tollgate::dev_idp {
namespace {

constexpr int kRsaBits = 2048;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

std::string big_endian_param(EVP_PKEY* key, const char* name) {
  BIGNUM* value = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &value) != 1) fail("EVP_PKEY_get_bn_param");
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(value)), '\0');
  BN_bn2bin(value, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(value);
  return bytes;
}

std::string public_key_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) fail("i2d_PUBKEY");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string to_string(const Sha256& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace

void SigningKey::KeyDeleter::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

SigningKey SigningKey::generate() {
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(EVP_RSA_gen(kRsaBits));
  if (!key) fail("EVP_RSA_gen");
  return SigningKey(std::move(key));
}

SigningKey::SigningKey(std::unique_ptr<EVP_PKEY, KeyDeleter> key) : key_(std::move(key)) {
  kid_ = base64url_encode(to_string(sha256(public_key_der(key_.get()))));
  const nlohmann::ordered_json header = {{"kid", kid_}, {"alg", "RS256"}};
  encoded_header_ = base64url_encode(header.dump());
  jwks_ = {{"keys",
            nlohmann::ordered_json::array(
                {{{"kty", "RSA"},
                  {"alg", "RS256"},
                  {"kid", kid_},
                  {"use", "sig"},
                  {"e", base64url_encode(big_endian_param(key_.get(), OSSL_PKEY_PARAM_RSA_E))},
                  {"n", base64url_encode(big_endian_param(key_.get(), OSSL_PKEY_PARAM_RSA_N))}}})}};
}

std::string SigningKey::sign_jwt(const nlohmann::ordered_json& claims) const {
  std::string jwt = encoded_header_;
  jwt += '.';
  jwt += base64url_encode(claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  if (!context) fail("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    fail("EVP_DigestSignInit");
  }
  const auto* input = reinterpret_cast<const unsigned char*>(jwt.data());
  std::size_t signature_length = 0;
  if (EVP_DigestSign(context.get(), nullptr, &signature_length, input, jwt.size()) != 1) {
    fail("EVP_DigestSign");
  }
  std::string signature(signature_length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()),
                     &signature_length, input, jwt.size()) != 1) {
    fail("EVP_DigestSign");
  }
  signature.resize(signature_length);
  jwt += '.';
  jwt += base64url_encode(signature);
  return jwt;
}

KeyRing::KeyRing(SigningKey first)
    : current_(std::make_shared<const SigningKey>(std::move(first))) {
  rebuild_document();
}

std::shared_ptr<const SigningKey> KeyRing::current() const {
  const std::lock_guard lock(mutex_);
  return current_;
}

std::string KeyRing::jwks_document() const {
  const std::lock_guard lock(mutex_);
  return document_;
}

std::string KeyRing::rotate(bool keep_previous) {
  auto next = std::make_shared<const SigningKey>(SigningKey::generate());
  const std::lock_guard lock(mutex_);
  previous_ = keep_previous ? current_ : nullptr;
  current_ = std::move(next);
  rebuild_document();
  return current_->kid();
}

void KeyRing::rebuild_document() {
  nlohmann::ordered_json keys = current_->jwks()["keys"];
  if (previous_) keys.push_back(previous_->jwks()["keys"][0]);
  document_ = nlohmann::ordered_json{{"keys", std::move(keys)}}.dump();
}

}  // namespace tollgate::dev_idp
