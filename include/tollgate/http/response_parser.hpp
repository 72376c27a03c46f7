// A response head kept flat: the status line and every field as views into one copy of the head's
// bytes, in the order they came, with no tree node or allocation per field. Beast's basic_parser
// reads the head and frames the body (length, chunked, the close); the body goes piece by piece
// into a buffer the caller lends, as with buffer_body. Relaying a head walks its fields once, and a
// field container would cost a node, a tree insert and a free for each of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/container/small_vector.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {

class ResponseParser final : public http::basic_parser<false> {
 public:
  using Field = FieldView;
  using Fields = boost::container::small_vector<Field, 16>;

  ResponseParser() = default;

  // Parses `head`, a whole response head through its empty line. The bytes are copied first: the
  // fields stay valid while the caller's buffer moves on. True when it parsed whole; a field name
  // or value over 64 KiB is an error, as Beast's field container has it.
  bool parse_head(std::string_view head);

  unsigned status() const noexcept { return status_; }
  unsigned version() const noexcept { return version_; }
  // The reason phrase as received, or the usual one for the status when it came empty.
  std::string_view reason() const noexcept;
  const Fields& fields() const noexcept { return fields_; }
  // The value of the first field called `name`, or an empty view.
  std::string_view operator[](http::field name) const noexcept;

  // Lends the next body piece's room; body_room() is what is left of it after a read.
  void lend_body_room(char* data, std::size_t size) noexcept {
    body_data_ = data;
    body_room_ = size;
  }
  std::size_t body_room() const noexcept { return body_room_; }

  // The head as Beast's header, for the rare paths built on one (an upgrade, an HTTP/2 client).
  http::response_header<> to_header() const;

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, beast::string_view reason, int version, error_code&) override;
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  // A field value as a view into a string owned here: `bytes_`, or `unfolded_` for a value Beast
  // joined from obsolete folded lines into a buffer that does not outlive the call.
  std::string_view keep(std::string_view value);

  std::string bytes_;
  std::forward_list<std::string> unfolded_;  // empty, and unallocated, but for folded values
  unsigned status_ = 0;
  unsigned version_ = 0;
  std::string_view reason_;
  Fields fields_;
  char* body_data_ = nullptr;
  std::size_t body_room_ = 0;
};

}  // namespace tollgate::http_io
