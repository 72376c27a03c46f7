#include "tollgate/common/error.hpp"

#include <string>

namespace tollgate {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "tollgate"; }
  std::string message(int ev) const override {
    return std::string(public_message_for(static_cast<errc>(ev)));
  }
};

}  // namespace

const boost::system::error_category& tollgate_category() noexcept {
  static const Category category;
  return category;
}

boost::beast::http::status http_status_for(errc e) noexcept {
  using boost::beast::http::status;
  switch (e) {
    case errc::ok:
      return status::ok;
    case errc::bad_request:
    case errc::bad_path:
      return status::bad_request;
    case errc::header_too_large:
      return status::request_header_fields_too_large;
    case errc::body_too_large:
      return status::payload_too_large;
    case errc::client_header_timeout:
      return status::request_timeout;
    case errc::no_route:
      return status::not_found;
    case errc::method_not_allowed:
      return status::method_not_allowed;
    case errc::upstream_connect_failed:
    case errc::upstream_bad_response:
      return status::bad_gateway;
    case errc::upstream_timeout:
      return status::gateway_timeout;
    case errc::upstream_unavailable:
    case errc::upstream_busy:
    case errc::idp_unavailable:
      return status::service_unavailable;
    case errc::internal:
      return status::internal_server_error;
  }
  return status::internal_server_error;
}

std::string_view public_message_for(errc e) noexcept {
  switch (e) {
    case errc::ok:
      return "OK";
    case errc::bad_request:
      return "Bad request";
    case errc::bad_path:
      return "Bad request path";
    case errc::header_too_large:
      return "Request header fields too large";
    case errc::body_too_large:
      return "Request body too large";
    case errc::client_header_timeout:
      return "Request timeout";
    case errc::no_route:
      return "No route matched with those values";
    case errc::method_not_allowed:
      return "Method not allowed";
    case errc::upstream_connect_failed:
      return "An invalid response was received from the upstream server";
    case errc::upstream_bad_response:
      return "An invalid response was received from the upstream server";
    case errc::upstream_timeout:
      return "The upstream server is timing out";
    case errc::upstream_unavailable:
      return "Failure to get a peer from the ring-balancer";
    case errc::upstream_busy:
      return "upstream busy";
    case errc::idp_unavailable:
      return "The identity provider is unavailable";
    case errc::internal:
      return "An unexpected error occurred";
  }
  return "An unexpected error occurred";
}

}  // namespace tollgate
