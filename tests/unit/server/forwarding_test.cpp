// The gateway-wide protected headers: one pass removes every header a plugin sets and every
// forwarding header, in every spelling a CGI-style upstream reads as the same name; a trusted
// proxy keeps its forwarding headers in their usual spelling.
#include "tollgate/server/forwarding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tollgate::server {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::make_address;

std::vector<std::string> names_of(const http::fields& fields) {
  std::vector<std::string> out;
  for (const auto& field : fields) out.emplace_back(field.name_string());
  return out;
}

config::GatewayConfig config_with(std::vector<std::string> plugin_headers,
                                  std::vector<config::Network> trusted = {}) {
  config::GatewayConfig config;
  config.plugin_request_headers = std::move(plugin_headers);
  config.trusted_proxies = std::move(trusted);
  return config;
}

// The forwarding headers added, then inserted into `fields` as a framing that does not write them
// flat does.
void add_forwarding(http::fields& fields, ForwardingKept& kept) {
  http_io::AddedFields added;
  add_forwarding_headers(added, fields, kept, "192.0.2.1", "http", "h");
  added.insert_into(fields);
}

http::fields client_fields() {
  http::fields f;
  f.insert("Host", "h");
  f.insert("X-Authenticated-User", "a");
  f.insert("X.Authenticated.User", "b");
  f.insert("x_authenticated_user", "c");
  f.insert("X-Authenticated-Users", "kept: another name");
  f.insert("X-Forwarded-For", "203.0.113.7");
  f.insert("X_Forwarded_For", "198.51.100.1");
  f.insert("X-Forwarded-Proto", "https");
  f.insert("X-Forwarded-Host", "public.example");
  f.insert("X-Forwarded-Port", "443");
  f.insert("X-Forwarded-Prefix", "/api");
  f.insert("Forwarded", "for=203.0.113.7");
  f.insert("X-Real-IP", "203.0.113.7");
  f.insert("X.Real.IP", "198.51.100.1");
  f.insert("X-Forwarded", "not a forwarding header of ours");
  f.insert("Accept", "*/*");
  return f;
}

TEST(ProtectedHeaders, AnUntrustedPeerLosesEveryProtectedHeaderInEverySpelling) {
  const ProtectedHeaders protected_headers(config_with({"X-Authenticated-User"}));
  http::fields f = client_fields();
  ForwardingKept kept = protected_headers.strip(f, false);
  EXPECT_EQ(names_of(f),
            (std::vector<std::string>{"Host", "X-Authenticated-Users", "X-Forwarded", "Accept"}));
  EXPECT_TRUE(kept.forwarded_for.empty());
  EXPECT_FALSE(kept.proto);
  EXPECT_FALSE(kept.host);

  add_forwarding(f, kept);
  EXPECT_EQ(f["X-Forwarded-For"], "192.0.2.1");
  EXPECT_EQ(f["X-Forwarded-Proto"], "http");
  EXPECT_EQ(f["X-Forwarded-Host"], "h");
  EXPECT_EQ(f["Via"], "1.1 tollgate");
}

TEST(ProtectedHeaders, ATrustedPeerKeepsItsForwardingHeadersInTheirUsualSpelling) {
  const ProtectedHeaders protected_headers(config_with({"X-Authenticated-User"}));
  http::fields f = client_fields();
  f.insert("x-forwarded-for", "10.0.0.2");  // a second one joins the chain
  ForwardingKept kept = protected_headers.strip(f, true);
  EXPECT_EQ(names_of(f),
            (std::vector<std::string>{"Host", "X-Authenticated-Users", "X-Forwarded-Proto",
                                      "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix",
                                      "Forwarded", "X-Real-IP", "X-Forwarded", "Accept"}));
  EXPECT_EQ(kept.forwarded_for, "203.0.113.7, 10.0.0.2");
  EXPECT_TRUE(kept.proto);
  EXPECT_TRUE(kept.host);

  add_forwarding(f, kept);
  EXPECT_EQ(f["X-Forwarded-For"], "203.0.113.7, 10.0.0.2, 192.0.2.1");
  EXPECT_EQ(f["X-Forwarded-Proto"], "https");
  EXPECT_EQ(f["X-Forwarded-Host"], "public.example");
  EXPECT_EQ(f.count("X-Forwarded-Proto"), 1u);
}

// Via is a chain every proxy extends (RFC 9110 §7.6.3), trusted peer or not; strip() notes that
// one came, so that a request without one is not searched for it.
TEST(ProtectedHeaders, AViaTheRequestBroughtIsExtended) {
  const ProtectedHeaders protected_headers(config_with({}));
  http::fields f = client_fields();
  f.insert(http::field::via, "1.0 edge");
  ForwardingKept kept = protected_headers.strip(f, false);
  EXPECT_TRUE(kept.via);
  add_forwarding(f, kept);
  EXPECT_EQ(f.count(http::field::via), 1u);
  EXPECT_EQ(f[http::field::via], "1.0 edge, 1.1 tollgate");

  http::fields plain = client_fields();
  EXPECT_FALSE(protected_headers.strip(plain, false).via);
}

// A head without trace fields (the usual) gets the gateway's beside it, without a lookup; strip()
// notes a head that has some, in any case, for them to be replaced.
TEST(ProtectedHeaders, TraceFieldsTheRequestBroughtAreNoted) {
  const ProtectedHeaders protected_headers(config_with({}));
  http::fields plain = client_fields();
  EXPECT_FALSE(protected_headers.strip(plain, false).trace);
  for (const char* name : {"traceparent", "TraceState", "TRACEPARENT"}) {
    http::fields f = client_fields();
    f.insert(name, "x");
    EXPECT_TRUE(protected_headers.strip(f, false).trace) << name;
  }
}

TEST(ProtectedHeaders, APluginHeaderNamedLikeAForwardingOneIsNeverKept) {
  const ProtectedHeaders protected_headers(config_with({"X-Forwarded-User"}));
  http::fields f;
  f.insert("X-Forwarded-User", "admin");
  protected_headers.strip(f, true);
  EXPECT_EQ(f.count("X-Forwarded-User"), 0u);
}

TEST(ProtectedHeaders, TrustIsByNetwork) {
  const ProtectedHeaders protected_headers(
      config_with({}, {{make_address("10.0.0.0"), 8}, {make_address("2001:db8::"), 32}}));
  EXPECT_TRUE(protected_headers.trusts(make_address("10.1.2.3")));
  EXPECT_FALSE(protected_headers.trusts(make_address("11.0.0.1")));
  EXPECT_TRUE(protected_headers.trusts(make_address("::ffff:10.0.0.1")));  // dual-stack listener
  EXPECT_TRUE(protected_headers.trusts(make_address("2001:db8:1::1")));
  EXPECT_FALSE(protected_headers.trusts(make_address("2001:db9::1")));
  EXPECT_FALSE(ProtectedHeaders(config_with({})).trusts(make_address("127.0.0.1")));
}

TEST(Network, PrefixLengthsOnAndOffByteBoundaries) {
  const config::Network host{make_address("127.0.0.1"), 32};
  EXPECT_TRUE(host.contains(make_address("127.0.0.1")));
  EXPECT_FALSE(host.contains(make_address("127.0.0.2")));
  const config::Network odd{make_address("192.168.4.0"), 22};
  EXPECT_TRUE(odd.contains(make_address("192.168.7.255")));
  EXPECT_FALSE(odd.contains(make_address("192.168.8.0")));
  const config::Network everything{make_address("0.0.0.0"), 0};
  EXPECT_TRUE(everything.contains(make_address("203.0.113.9")));
  EXPECT_FALSE(everything.contains(make_address("::1")));
}

}  // namespace
}  // namespace tollgate::server
