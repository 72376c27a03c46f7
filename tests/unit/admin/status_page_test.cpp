// The status page built into the binary is the source file byte for byte, and the policy sent with
// it allows exactly its own script.
#include "admin/status_page.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tollgate/common/hash.hpp"

namespace tollgate::admin {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(StatusPage, EmbedsTheSourceFileExactly) {
  const std::string source =
      read_file(std::string(TOLLGATE_SOURCE_DIR) + "/src/admin/status_page.html");
  ASSERT_FALSE(source.empty());
  EXPECT_EQ(status_page_html(), source);
}

TEST(StatusPage, PolicyAllowsItsOwnScriptByHashAndNothingFromElsewhere) {
  const std::string_view html = status_page_html();
  const auto start = html.find("<script>") + 8;
  const std::string_view script = html.substr(start, html.find("</script>") - start);
  const Sha256 digest = sha256(script);
  const std::string hash =
      base64_encode({reinterpret_cast<const char*>(digest.data()), digest.size()});
  const std::string_view policy = status_page_policy();
  EXPECT_NE(policy.find("script-src 'sha256-" + hash + "'"), std::string_view::npos) << policy;
  EXPECT_NE(policy.find("default-src 'none'"), std::string_view::npos);
  EXPECT_NE(policy.find("connect-src 'self'"), std::string_view::npos);
  EXPECT_EQ(policy.find("unsafe-eval"), std::string_view::npos);
  EXPECT_EQ(policy.find("script-src 'unsafe-inline'"), std::string_view::npos);
}

TEST(StatusPage, ServedAsUncachedHtmlWithItsPolicy) {
  http::response<http::string_body> response;
  serve_status_page(response);
  EXPECT_EQ(response[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(response[http::field::cache_control], "no-cache");
  EXPECT_EQ(response["Content-Security-Policy"], status_page_policy());
  EXPECT_EQ(response.body(), status_page_html());
}

}  // namespace
}  // namespace tollgate::admin
