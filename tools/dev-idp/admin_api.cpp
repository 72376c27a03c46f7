#include "admin_api.hpp"

#include <spdlog/spdlog.h>

namespace tollgate::dev_idp {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::int64_t kMaxTokenTtlSeconds = 10LL * 365 * 24 * 3600;

Reply bad_request(std::string_view description) {
  return error_reply(http::status::bad_request, "invalid_request", description);
}

}  // namespace

Reply AdminApi::set_client_active(std::string_view client_id, bool active) {
  Client* client = state_.clients.find(client_id);
  if (client == nullptr) {
    return error_reply(http::status::not_found, "not_found", "No client has that client_id.");
  }
  if (active) {
    client->activate();
  } else {
    client->deactivate();
  }
  spdlog::info("client {} {}", client->id(), active ? "activated" : "deactivated");
  return json_reply(http::status::ok,
                    ordered_json{{"client_id", client->id()}, {"active", active}});
}

Reply AdminApi::rotate_keys(const Request& request) {
  bool keep_previous = true;
  if (!request.body().empty()) {
    const auto json = nlohmann::json::parse(request.body(), nullptr, false);
    if (!json.is_object()) return bad_request("The body must be a JSON object.");
    auto keep = json.find("keep_previous");
    if (keep != json.end()) {
      if (!keep->is_boolean()) return bad_request("keep_previous must be a boolean.");
      keep_previous = keep->get<bool>();
    }
  }
  const std::string kid = state_.signing_keys.rotate(keep_previous);
  spdlog::info("signing key rotated: kid {}, previous key {}", kid,
               keep_previous ? "kept" : "removed");
  return json_reply(http::status::ok, ordered_json{{"kid", kid}, {"keep_previous", keep_previous}});
}

Reply AdminApi::stats() const {
  ordered_json traces = ordered_json::array();
  for (const RecentTraces::Trace& trace : state_.stats.introspect_traces.latest()) {
    ordered_json entry{{"traceparent", trace.traceparent}};
    if (!trace.tracestate.empty()) entry["tracestate"] = trace.tracestate;
    traces.push_back(std::move(entry));
  }
  return json_reply(http::status::ok,
                    ordered_json{{"introspect_calls", state_.stats.introspect_calls.total()},
                                 {"token_calls", state_.stats.token_calls.total()},
                                 {"keys_calls", state_.stats.keys_calls.total()},
                                 {"introspect_traces", std::move(traces)}});
}

Reply AdminApi::reset_stats() {
  state_.stats.introspect_calls.reset();
  state_.stats.token_calls.reset();
  state_.stats.keys_calls.reset();
  state_.stats.introspect_traces.reset();
  return stats();
}

Reply AdminApi::faults() const {
  const auto current = state_.faults.current();
  return json_reply(http::status::ok, current ? current->to_json() : ordered_json::object());
}

Reply AdminApi::set_faults(const Request& request) {
  const auto json = nlohmann::json::parse(request.body(), nullptr, false);
  if (json.is_discarded()) return bad_request("The body must be a JSON object of faults.");
  auto parsed = Faults::from_json(json);
  if (const auto* problem = std::get_if<std::string>(&parsed)) return bad_request(*problem);
  Faults& faults = std::get<Faults>(parsed);
  ordered_json applied = faults.to_json();
  spdlog::info("introspection faults set: {}", dump_json(applied));
  state_.faults.set(std::move(faults));
  return json_reply(http::status::ok, applied);
}

Reply AdminApi::clear_faults() {
  state_.faults.clear();
  spdlog::info("introspection faults cleared");
  return json_reply(http::status::ok, ordered_json::object());
}

Reply AdminApi::mint_token(const Request& request) {
  const auto json = nlohmann::json::parse(request.body(), nullptr, false);
  if (!json.is_object()) return bad_request("The body must be a JSON object.");
  for (const auto& [key, value] : json.items()) {
    if (key != "client_id" && key != "scope" && key != "ttl_s" && key != "audience" &&
        key != "token_format" && key != "not_before_in_s") {
      return bad_request("Unknown field '" + key + "'.");
    }
  }

  const auto client_id = json.find("client_id");
  if (client_id == json.end() || !client_id->is_string()) {
    return bad_request("client_id (string) is required.");
  }
  const Client* client = state_.clients.find(client_id->get<std::string>());
  if (client == nullptr) {
    return error_reply(http::status::not_found, "not_found", "No client has that client_id.");
  }

  // The scope is taken as given, even beyond the client's own scopes, so tests can mint tokens a
  // gateway must refuse for insufficient scope.
  std::string scope;
  if (const auto it = json.find("scope"); it != json.end()) {
    if (!it->is_string()) return bad_request("scope must be a space-separated string.");
    scope = it->get<std::string>();
  } else {
    for (const auto& one : client->scopes()) scope += (scope.empty() ? "" : " ") + one;
  }

  std::chrono::seconds ttl = state_.settings.token_ttl;
  if (const auto it = json.find("ttl_s"); it != json.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > kMaxTokenTtlSeconds) {
      return bad_request("ttl_s must be a non-negative integer (seconds, at most ten years).");
    }
    ttl = std::chrono::seconds(it->get<std::int64_t>());
  }

  std::string audience = client->audience();
  if (const auto it = json.find("audience"); it != json.end()) {
    if (!it->is_string()) return bad_request("audience must be a string.");
    audience = it->get<std::string>();
  }

  TokenFormat format = state_.settings.default_format;
  if (const auto it = json.find("token_format"); it != json.end()) {
    if (*it == "jwt") {
      format = TokenFormat::jwt;
    } else if (*it == "opaque") {
      format = TokenFormat::opaque;
    } else {
      return bad_request("token_format must be 'jwt' or 'opaque'.");
    }
  }

  // A token not valid yet: nbf this many seconds after iat, in the JWT and the introspection
  // answer.
  std::optional<std::chrono::seconds> not_before;
  if (const auto it = json.find("not_before_in_s"); it != json.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > kMaxTokenTtlSeconds) {
      return bad_request("not_before_in_s must be a non-negative integer (seconds).");
    }
    not_before = std::chrono::seconds(it->get<std::int64_t>());
  }

  const auto issued = server_.issue(*client, std::move(scope), ttl, format, audience, not_before);
  if (!issued) {
    return error_reply(http::status::conflict, "client_inactive",
                       "The client is deactivated; activate it first.");
  }
  return token_reply(*issued);
}

}  // namespace tollgate::dev_idp
