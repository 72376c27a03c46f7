#include "pki.hpp"

#include <cstdlib>
#include <stdexcept>

namespace tollgate::test {
namespace {
void run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("failed: " + command);
  }
}
}  // namespace

TestPki::TestPki(const TempDir& dir, const std::string& names, int days) {
  const std::string d = dir.path();
  ca = d + "/ca.pem";
  cert = d + "/server.pem";
  key = d + "/server.key";
  const std::string ext = dir.write("san.ext", "subjectAltName=" + names + "\n");
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tollgate-test-ca -keyout " + d +
      "/ca.key -out " + ca);
  run("openssl req -newkey rsa:2048 -nodes -subj /CN=tollgate-test-server -keyout " + key +
      " -out " + d + "/server.csr");
  // An expired certificate: valid from 3 days ago for (3 + days) days, days < 0.
  const std::string validity =
      days >= 0 ? "-days " + std::to_string(days)
                : "-startdate $(date -u -d '-3 days' +%Y%m%d%H%M%SZ) -enddate $(date -u -d '" +
                      std::to_string(days) + " days' +%Y%m%d%H%M%SZ)";
  if (days >= 0) {
    run("openssl x509 -req -in " + d + "/server.csr -CA " + ca + " -CAkey " + d +
        "/ca.key -CAcreateserial " + validity + " -extfile " + ext + " -out " + cert);
  } else {
    // `openssl x509` cannot back-date; a minimal `openssl ca` setup can.
    dir.write("index.txt", "");
    dir.write("serial", "01\n");
    dir.write("ca.cnf", "[ca]\ndefault_ca=t\n[t]\ndatabase=" + d + "/index.txt\nserial=" + d +
                            "/serial\nnew_certs_dir=" + d +
                            "\ndefault_md=sha256\npolicy=p\n"
                            "copy_extensions=none\n[p]\ncommonName=supplied\n");
    run("bash -c \"openssl ca -batch -config " + d + "/ca.cnf -cert " + ca + " -keyfile " + d +
        "/ca.key -in " + d + "/server.csr -out " + cert + " -extfile " + ext + " " + validity +
        "\"");
  }
}

}  // namespace tollgate::test
