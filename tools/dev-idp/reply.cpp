#include "reply.hpp"

#include <boost/beast/http/field.hpp>

namespace tollgate::dev_idp {

std::string dump_json(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Reply json_reply(http::status status, std::string body) {
  Reply reply;
  reply.response.result(status);
  reply.response.set(http::field::content_type, "application/json");
  reply.response.set(http::field::cache_control, "no-store");
  reply.response.set(http::field::pragma, "no-cache");
  reply.response.body() = std::move(body);
  return reply;
}

Reply json_reply(http::status status, const nlohmann::ordered_json& json) {
  return json_reply(status, dump_json(json));
}

Reply error_reply(http::status status, std::string_view error, std::string_view description) {
  return json_reply(status,
                    nlohmann::ordered_json{{"error", error}, {"error_description", description}});
}

}  // namespace tollgate::dev_idp
