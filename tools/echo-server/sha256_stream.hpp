// SHA-256 over data that arrives in pieces, so a request body can be hashed without being kept.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>

#include "tollgate/common/hash.hpp"

namespace echo_server {

class Sha256Stream {
 public:
  Sha256Stream() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), algorithm(), nullptr) != 1) {
      throw std::runtime_error("SHA-256 initialisation failed");
    }
  }

  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(context_.get(), data, size) != 1) {
      throw std::runtime_error("SHA-256 update failed");
    }
  }

  // Lowercase hex of the digest; the stream is finished afterwards.
  std::string hex_digest() {
    tollgate::Sha256 digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
      throw std::runtime_error("SHA-256 finalisation failed");
    }
    return tollgate::to_hex(digest);
  }

 private:
  // Fetched once: an implicit fetch on every EVP_DigestInit costs a provider lookup per request.
  static const EVP_MD* algorithm() {
    static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return sha256;
  }

  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
};

}  // namespace echo_server
