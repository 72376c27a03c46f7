// Header rules shared by every hop: what is hop-by-hop, what a client may not set.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/message.hpp>

namespace tollgate::http_io {

// Headers Beast has no enum for.
inline constexpr std::string_view kXRequestId = "X-Request-Id";
inline constexpr std::string_view kXForwardedFor = "X-Forwarded-For";
inline constexpr std::string_view kXForwardedProto = "X-Forwarded-Proto";
inline constexpr std::string_view kXForwardedHost = "X-Forwarded-Host";

// Adds a field named `name`, a name Beast has no enum for (the constants above, traceparent): the
// plain insert() would first look the name up in Beast's table of names only to find none there.
void insert_unlisted(boost::beast::http::fields& fields, std::string_view name,
                     std::string_view value);
// The same, in place of every field of that name (set()).
void set_unlisted(boost::beast::http::fields& fields, std::string_view name,
                  std::string_view value);

// Removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
// Proxy-Authenticate, Proxy-Authorization, and every header named in a Connection header.
void strip_hop_by_hop(boost::beast::http::fields& fields);

// Case-insensitive comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

// ASCII only, whatever the locale: header names and tokens are ASCII.
char ascii_lower(char c) noexcept;

// RFC 9113 §8.2.2: fields an HTTP/2 message must not carry (TE but for "trailers" is the caller's
// to judge). Known names are parsed to their enum, so a switch finds them.
bool is_connection_specific(boost::beast::http::field name) noexcept;

// `s` without the optional white space (spaces and tabs) around it (RFC 9110 §5.6.3).
std::string_view trim_ows(std::string_view s) noexcept;

// True when a Content-Type value names application/x-www-form-urlencoded (in any case, with or
// without parameters such as charset).
bool is_form_urlencoded(std::string_view content_type) noexcept;

// A header name as a CGI-style server (PHP, WSGI, Rack, ...) sees it: ASCII letters in lower case,
// every byte that is not a letter or digit as '_' (X-User, X_User and X.User all become x_user,
// read as HTTP_X_USER).
char cgi_char(char c) noexcept;
std::string cgi_name(std::string_view name);

// True when `a` and `b` name the same header to a CGI-style server: cgi_name(a) == cgi_name(b).
bool cgi_equivalent(std::string_view a, std::string_view b) noexcept;

// True when `fields` carries `name` more than once.
bool has_duplicate(const boost::beast::http::fields& fields, boost::beast::http::field name);

// Fields the gateway adds to a request it forwards (X-Request-Id, the trace, X-Forwarded-*, Via),
// kept beside the head instead of in its field container, where each would cost a node, a tree
// insert and a free: written after the head's own fields where the head is written flat, inserted
// into them where it goes out another way. Views: what they name outlives the head's sending.
class AddedFields {
 public:
  static constexpr std::size_t kCapacity = 8;

  void add(std::string_view name, std::string_view value) noexcept;  // at most kCapacity
  std::span<const std::pair<std::string_view, std::string_view>> items() const noexcept {
    return {items_.data(), size_};
  }
  // Into `fields`, after those there (a cold path: the head goes out through Beast or HTTP/2).
  void insert_into(boost::beast::http::fields& fields) const;

 private:
  std::array<std::pair<std::string_view, std::string_view>, kCapacity> items_;
  std::size_t size_ = 0;
};

// Appends `head` as it goes on the wire: start line, fields in their order, empty line. The same
// bytes Beast's serializer writes, without its buffer-sequence machinery, so that a head and a body
// already at hand leave in one plain write. (The serializer stays for bodies that need framing.)
void append_head(const boost::beast::http::request_header<>& head, std::string& out);
// The same with `host` (when not empty) as the first field in place of the head's own Host, and
// `added` after the head's fields.
void append_head(const boost::beast::http::request_header<>& head, std::string_view host,
                 const AddedFields& added, std::string& out);
void append_head(const boost::beast::http::response_header<>& head, std::string& out);
// The status line alone: "HTTP/1.1 200 OK\r\n".
void append_status_line(unsigned version, unsigned status, std::string_view reason,
                        std::string& out);

// A field of a received head kept flat, as views into the head's bytes (ResponseParser's).
struct FieldView {
  boost::beast::http::field name;  // field::unknown for a name Beast has no enum for
  std::string_view name_string;    // as received
  std::string_view value;          // white space around it removed
};

// Appends the fields of a received head that go on to the next hop, in their order, as
// "Name: value\r\n": those strip_hop_by_hop() keeps (the same rule), but those called `drop`, in
// any case.
void append_end_to_end_fields(std::span<const FieldView> fields, std::string_view drop,
                              std::string& out);

}  // namespace tollgate::http_io
