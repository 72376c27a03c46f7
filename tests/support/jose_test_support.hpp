// Keys made fresh for a test, and the JWKS an issuer would publish for them.
#pragma once

#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include <openssl/core_names.h>

#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jwk.hpp"

namespace tollgate::jose::test {

inline PublicKey generate_key(const std::string& kind) {
  EVP_PKEY* key = nullptr;
  if (kind == "RSA") key = EVP_RSA_gen(2048);
  if (kind == "RSA-1024") key = EVP_RSA_gen(1024);
  if (kind == "P-256") key = EVP_EC_gen("P-256");
  if (kind == "P-384") key = EVP_EC_gen("P-384");
  if (kind == "P-521") key = EVP_EC_gen("P-521");
  if (kind == "Ed25519") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (kind == "Ed448") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  if (key == nullptr) throw std::runtime_error("cannot generate " + kind);
  return PublicKey(key, EVP_PKEY_free);
}

inline std::string jwks_of(std::initializer_list<std::pair<EVP_PKEY*, std::string>> keys) {
  nlohmann::json set = {{"keys", nlohmann::json::array()}};
  for (const auto& [key, kid] : keys) set["keys"].push_back(public_jwk(key, kid));
  return set.dump();
}

// The private JWK of a key generate_key() made: its public JWK plus the private members.
inline nlohmann::json private_jwk(EVP_PKEY* key, const std::string& kid) {
  nlohmann::json jwk = public_jwk(key, kid);
  auto big_endian = [key](const char* name, std::size_t size) {
    BIGNUM* value = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &value) != 1) throw std::runtime_error(name);
    std::string bytes(size != 0 ? size : static_cast<std::size_t>(BN_num_bytes(value)), '\0');
    BN_bn2binpad(value, reinterpret_cast<unsigned char*>(bytes.data()),
                 static_cast<int>(bytes.size()));
    BN_free(value);
    return base64url_encode(bytes);
  };
  if (jwk["kty"] == "RSA") {
    for (const auto& [member, param] :
         {std::pair{"d", OSSL_PKEY_PARAM_RSA_D}, std::pair{"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
          std::pair{"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
          std::pair{"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
          std::pair{"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
          std::pair{"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}}) {
      jwk[member] = big_endian(param, 0);
    }
  } else if (jwk["kty"] == "EC") {
    jwk["d"] =
        big_endian(OSSL_PKEY_PARAM_PRIV_KEY, base64url_decode(jwk["x"].get<std::string>())->size());
  } else {
    unsigned char raw[57];
    std::size_t size = sizeof raw;
    EVP_PKEY_get_raw_private_key(key, raw, &size);
    jwk["d"] = base64url_encode({reinterpret_cast<const char*>(raw), size});
  }
  return jwk;
}

// The private key as a PEM file holds it (PKCS#8): what client_key_file reads.
inline std::string private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const std::string pem(data, static_cast<std::size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  return pem;
}

}  // namespace tollgate::jose::test
