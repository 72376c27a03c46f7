// What a handler decides for one request: the response, and how the connection delivers it.
// Handlers are plain functions from request to Reply (no I/O), so every decision is in one place
// and the connection code only carries it out.
#pragma once

#include <chrono>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace tollgate::dev_idp {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

enum class Delivery {
  respond,         // send the response
  close_silently,  // close the connection without a byte
  truncate,        // promise more body than is sent, then close
  blackhole,       // send nothing, keep the connection until the peer leaves
};

struct Reply {
  Response response;
  Delivery delivery = Delivery::respond;
  std::chrono::milliseconds delay{0};  // waited before delivering
};

// Serialises JSON that may carry client-supplied text: invalid UTF-8 is replaced, never thrown.
std::string dump_json(const nlohmann::ordered_json& json);

// A JSON response with Cache-Control: no-store (RFC 6749 section 5.1).
Reply json_reply(http::status status, std::string body);
Reply json_reply(http::status status, const nlohmann::ordered_json& json);

// {"error":..,"error_description":..} with `status`.
Reply error_reply(http::status status, std::string_view error, std::string_view description);

}  // namespace tollgate::dev_idp
