#include "tollgate/filters/openid_connect/upstream_headers.hpp"

#include "tollgate/common/hash.hpp"
#include "tollgate/oidc/claims.hpp"

namespace tollgate::filters::openid_connect {
namespace {

// The longest value a Beast header field holds (its offsets are 16-bit); set() throws on a longer
// one, which would end the client's connection without an answer.
constexpr std::size_t kMaxHeaderValueBytes = 65'533;

void set_if_it_fits(RequestHead& request, std::string_view name, std::string_view value) {
  if (value.size() <= kMaxHeaderValueBytes) request.set(name, value);
}

}  // namespace

std::vector<std::string> UpstreamHeaders::names() const {
  std::vector<std::string> out;
  if (!access_token_header.empty()) out.push_back(access_token_header);
  if (!introspection_header.empty()) out.push_back(introspection_header);
  for (const ClaimHeader& claim : claim_headers) out.push_back(claim.header);
  return out;
}

void set_upstream_headers(RequestHead& request, const UpstreamHeaders& headers,
                          const oidc::Introspection& answer, std::string_view token) {
  if (!headers.access_token_header.empty()) {
    std::string value;
    if (!headers.access_token_prefix.empty()) value.append(headers.access_token_prefix).append(" ");
    value.append(token);
    request.set(headers.access_token_header, value);
  }
  if (!headers.introspection_header.empty()) {
    // The answer re-encoded from its parsed claims (as Kong does): the same members and values.
    set_if_it_fits(request, headers.introspection_header, base64_encode(answer.claims.dump()));
  }
  for (const ClaimHeader& claim : headers.claim_headers) {
    const oidc::ClaimValue value = oidc::find_claim(answer.claims, claim.claim_path);
    if (!value) continue;
    if (std::optional<std::string> text = oidc::claim_header_value(value)) {
      set_if_it_fits(request, claim.header, *text);
    }
  }
}

}  // namespace tollgate::filters::openid_connect
