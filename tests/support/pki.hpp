// A throwaway certificate authority and certificates signed by it, made with the openssl CLI at
// test time (never committed): for real TLS between test processes.
#pragma once

#include <string>

#include "process.hpp"

namespace tollgate::test {

struct TestPki {
  // A CA, and a server certificate for `names` (subjectAltName entries such as
  // "IP:127.0.0.1,DNS:localhost"), valid from now for `days` (negative: already expired).
  explicit TestPki(const TempDir& dir, const std::string& names = "IP:127.0.0.1,DNS:localhost",
                   int days = 2);
  std::string ca;    // CA certificate (PEM)
  std::string cert;  // server certificate (PEM)
  std::string key;   // server key (PEM)
};

}  // namespace tollgate::test
