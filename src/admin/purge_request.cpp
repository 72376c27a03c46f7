#include "purge_request.hpp"

#include <nlohmann/json.hpp>

#include "tollgate/common/hash.hpp"

namespace tollgate::admin {
namespace {

// A claim value longer than this is not one an IdP sends.
constexpr std::size_t kMaxClaimBytes = 1024;
constexpr const char* kExample =
    R"(e.g. {"sub": "alice"}, {"client_id": "0oa1b2c3"}, {"all": true})";

}  // namespace

result<PurgeRequest, std::string> parse_purge_request(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return std::string("the body must be a JSON object naming what to purge, ") + kExample;
  }
  PurgeRequest request;
  int named = 0;
  for (const auto& [field, value] : json.items()) {
    if (field == "plugin") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return std::string("plugin must be the name of a plugin instance");
      }
      request.plugin = value.get<std::string>();
      continue;
    }
    ++named;
    if (field == "key") {
      std::string hex = value.is_string() ? value.get<std::string>() : "";
      for (char& c : hex) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      }
      if (!sha256_from_hex(hex)) {
        return std::string("key must be the 64 hexadecimal characters logged as key=...");
      }
      request.what = {metrics::PurgeScope::key, std::move(hex)};
    } else if (field == "sub" || field == "client_id") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>().size() > kMaxClaimBytes) {
        return field + " must be a non-empty string of at most 1024 bytes";
      }
      request.what = {field == "sub" ? metrics::PurgeScope::sub : metrics::PurgeScope::client_id,
                      value.get<std::string>()};
    } else if (field == "all") {
      if (value != true) return std::string("all must be true");
      request.what = {metrics::PurgeScope::all, ""};
    } else {
      return "unknown field \"" + field + "\" (expected key, sub, client_id or all, and plugin)";
    }
  }
  if (named == 0) return std::string("name what to purge: ") + kExample;
  if (named > 1) return std::string("name one of key, sub, client_id or all, not several");
  return request;
}

}  // namespace tollgate::admin
