// The body of POST /cache/purge (README, "Purging cached answers"): a JSON object naming one of
// {"key": "<64 hex>"}, {"sub": "..."}, {"client_id": "..."} or {"all": true}, and optionally the
// plugin instance, {"plugin": "okta"}.
#pragma once

#include <string>
#include <string_view>

#include "tollgate/common/asio.hpp"
#include "tollgate/filters/filter.hpp"

namespace tollgate::admin {

struct PurgeRequest {
  filters::CachePurge what;
  std::string plugin;  // empty: every instance that keeps a cache
};

// The request, or what is wrong with the body, as the 400 answer says it.
result<PurgeRequest, std::string> parse_purge_request(std::string_view body);

}  // namespace tollgate::admin
