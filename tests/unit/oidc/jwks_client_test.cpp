// The JwksClient against a real HTTP server on 127.0.0.1: the first fetch, discovery of jwks_uri,
// the refresh an unknown kid causes (single-flight, rate-limited) and the bounds on what it keeps.
#include "tollgate/oidc/jwks_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "canned_http_server.hpp"
#include "jose_test_support.hpp"

namespace tollgate::oidc {
namespace {

using testing::CannedHttpServer;
using testing::CannedResponse;
using Request = CannedHttpServer::Request;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

class JwksClientTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  JwksSettings settings;
  jose::PublicKey first_key = jose::test::generate_key("P-256");
  jose::PublicKey second_key = jose::test::generate_key("P-256");
  // What the server publishes; changed by the tests between fetches.
  std::shared_ptr<std::string> published =
      std::make_shared<std::string>(jose::test::jwks_of({{first_key.get(), "k1"}}));
  CannedHttpServer server{[published = published](const Request& request) {
    CannedResponse response;
    if (request.target() == "/.well-known/openid-configuration") {
      response.body =
          R"({"issuer":")" + issuer_seen() + R"(","jwks_uri":")" + issuer_seen() + R"(/keys"})";
    } else if (request.target() == "/keys") {
      response.body = *published;
    } else {
      response.status = 404;
    }
    return response;
  }};

  static std::string& issuer_seen() {
    static std::string issuer;
    return issuer;
  }

  JwksClientTest() {
    settings.timeout = seconds(5);
    settings.min_refresh_interval = seconds(30);
    issuer_seen() = server.base_url();
  }

  std::shared_ptr<JwksClient> start_client() {
    auto client = JwksClient::create(settings, nullptr, "test");
    client->start(filters::StartContext{{io.get_executor()}});
    return client;
  }

  void refresh(JwksClient& client, int times) {
    for (int i = 0; i < times; ++i) {
      boost::asio::co_spawn(io, client.refresh_for_unknown_kid(), boost::asio::detached);
    }
  }

  template <class Done>
  bool run_until(Done done) {
    const auto deadline = SteadyClock::now() + seconds(10);
    io.restart();
    while (!done() && SteadyClock::now() < deadline) io.run_one_for(milliseconds(20));
    return done();
  }
  void settle() {
    io.restart();
    io.run_for(milliseconds(200));
  }
};

TEST_F(JwksClientTest, FetchesTheKeysAtStart) {
  settings.jwks_uri = server.base_url() + "/keys";
  auto client = start_client();
  EXPECT_EQ(client->keys(0), nullptr);
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  ASSERT_NE(client->keys(0), nullptr);
  EXPECT_TRUE(client->keys(0)->has_kid("k1"));
  const Request request = server.requests().front();
  EXPECT_EQ(request.method(), boost::beast::http::verb::get);
  client->stop();
}

TEST_F(JwksClientTest, FindsJwksUriInTheIssuersMetadata) {
  settings.issuer = server.base_url();
  auto client = start_client();
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  EXPECT_TRUE(client->keys(0)->has_kid("k1"));
  client->stop();
}

TEST_F(JwksClientTest, AnUnknownKidFetchesOnceForManyRequests) {
  settings.jwks_uri = server.base_url() + "/keys";
  settings.min_refresh_interval = milliseconds(100);
  auto client = start_client();
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  // Let the first fetch age past the minimum interval, measured on the steady clock.
  const auto aged = SteadyClock::now() + milliseconds(150);
  while (SteadyClock::now() < aged) io.run_one_for(milliseconds(20));

  *published = jose::test::jwks_of({{first_key.get(), "k1"}, {second_key.get(), "k2"}});
  refresh(*client, 20);
  ASSERT_TRUE(run_until([&] { return client->keys(0)->has_kid("k2"); }));
  settle();
  EXPECT_EQ(client->fetches_attempted(), 2u);
  EXPECT_EQ(server.request_count(), 2u);
  client->stop();
}

TEST_F(JwksClientTest, AnUnknownKidSoonAfterAFetchFetchesNothing) {
  settings.jwks_uri = server.base_url() + "/keys";
  auto client = start_client();
  ASSERT_TRUE(run_until([&] { return client->ready(); }));
  *published = jose::test::jwks_of({{second_key.get(), "k2"}});
  refresh(*client, 5);
  settle();
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_FALSE(client->keys(0)->has_kid("k2"));
  client->stop();
}

TEST_F(JwksClientTest, AKeySetOverTheLimitsIsRefusedAndTheHeldKeysKept) {
  settings.jwks_uri = server.base_url() + "/keys";
  settings.min_refresh_interval = milliseconds(100);
  auto client = start_client();
  ASSERT_TRUE(run_until([&] { return client->ready(); }));

  nlohmann::json many = {{"keys", nlohmann::json::array()}};
  for (int i = 0; i < 10'000; ++i) many["keys"].push_back(jose::public_jwk(second_key.get(), "x"));
  *published = many.dump();
  const auto aged = SteadyClock::now() + milliseconds(150);
  while (SteadyClock::now() < aged) io.run_one_for(milliseconds(20));
  refresh(*client, 1);
  ASSERT_TRUE(run_until([&] { return client->fetches_attempted() == 2; }));
  settle();
  EXPECT_TRUE(client->keys(0)->has_kid("k1"));
  EXPECT_EQ(client->keys(0)->size(), 1u);
  client->stop();
}

TEST_F(JwksClientTest, NotReadyWhileTheJwksEndpointIsDown) {
  settings.jwks_uri = server.base_url() + "/missing";
  auto client = start_client();
  ASSERT_TRUE(run_until([&] { return server.request_count() >= 1; }));
  settle();
  EXPECT_FALSE(client->ready());
  EXPECT_EQ(client->keys(0), nullptr);
  client->stop();
}

}  // namespace
}  // namespace tollgate::oidc
