#include "status_page.hpp"

#include <string>

#include "tollgate/common/hash.hpp"

namespace tollgate::admin {
namespace {

// The text of the page's one inline script, which the policy allows by its SHA-256.
std::string_view inline_script(std::string_view html) {
  constexpr std::string_view open = "<script>", close = "</script>";
  const auto start = html.find(open);
  const auto end = html.find(close, start);
  if (start == std::string_view::npos || end == std::string_view::npos) return {};
  return html.substr(start + open.size(), end - start - open.size());
}

std::string make_policy() {
  const Sha256 digest = sha256(inline_script(status_page_html()));
  const std::string hash =
      base64_encode({reinterpret_cast<const char*>(digest.data()), digest.size()});
  return "default-src 'none'; connect-src 'self'; script-src 'sha256-" + hash +
         "'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'";
}

}  // namespace

std::string_view status_page_policy() {
  static const std::string policy = make_policy();
  return policy;
}

void serve_status_page(http::response<http::string_body>& response) {
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set(http::field::cache_control, "no-cache");
  response.set("Content-Security-Policy", status_page_policy());
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = status_page_html();
}

}  // namespace tollgate::admin
