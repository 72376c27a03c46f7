#include "tollgate/http/response_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace tollgate::http_io {
namespace {

constexpr std::size_t kMaxFieldSize = 65535 - 2;  // as Beast's basic_fields counts it

}  // namespace

bool ResponseParser::parse_head(std::string_view head) {
  bytes_.assign(head);
  eager(false);
  error_code ec;
  std::size_t used = 0;
  try {
    used = put(asio::buffer(bytes_.data(), bytes_.size()), ec);
  } catch (const std::length_error&) {
    return false;  // Beast's own limits, should a version throw rather than report
  }
  if (ec || used != bytes_.size() || !is_header_done()) return false;
  eager(true);
  return true;
}

std::string_view ResponseParser::reason() const noexcept {
  if (!reason_.empty()) return reason_;
  return http::obsolete_reason(static_cast<http::status>(status_));
}

std::string_view ResponseParser::operator[](http::field name) const noexcept {
  for (const Field& field : fields_) {
    if (field.name == name) return field.value;
  }
  return {};
}

http::response_header<> ResponseParser::to_header() const {
  http::response_header<> head;
  head.result(status_);
  head.version(version_);
  head.reason(reason_);
  for (const Field& field : fields_) head.insert(field.name, field.name_string, field.value);
  return head;
}

std::string_view ResponseParser::keep(std::string_view value) {
  // Names, the reason and unfolded values are views into the bytes given to put(); a value Beast
  // joined from folded lines is in a buffer of its own.
  const auto at = reinterpret_cast<std::uintptr_t>(value.data());
  const auto begin = reinterpret_cast<std::uintptr_t>(bytes_.data());
  if (value.empty() || (at >= begin && at + value.size() <= begin + bytes_.size())) return value;
  return unfolded_.emplace_front(value);
}

void ResponseParser::on_response_impl(int code, beast::string_view reason, int version,
                                      error_code&) {
  status_ = static_cast<unsigned>(code);
  version_ = static_cast<unsigned>(version);
  reason_ = reason;
}

void ResponseParser::on_field_impl(http::field name, beast::string_view name_string,
                                   beast::string_view value, error_code& ec) {
  // A chunked body's trailer fields come after the head: they are not relayed, and would point
  // into a buffer that is not ours.
  if (is_header_done()) return;
  // Beast's field container holds no name or value over 64 KiB, and the paths built on it
  // (to_header()) take what is relayed here: the same limit for every path, as a bad head.
  if (name_string.size() > kMaxFieldSize || value.size() > kMaxFieldSize) {
    ec = http::error::header_limit;
    return;
  }
  fields_.push_back(Field{name, name_string, keep(value)});
}

std::size_t ResponseParser::on_body_impl(beast::string_view body, error_code& ec) {
  if (body_data_ == nullptr) {
    ec = http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(body.size(), body_room_);
  if (n > 0) std::memcpy(body_data_, body.data(), n);
  body_data_ += n;
  body_room_ -= n;
  if (n < body.size()) ec = http::error::need_buffer;
  return n;
}

}  // namespace tollgate::http_io
