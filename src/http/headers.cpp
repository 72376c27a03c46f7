#include "tollgate/http/headers.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <boost/container/small_vector.hpp>

namespace tollgate::http_io {
namespace {

namespace http = boost::beast::http;

// RFC 9110 7.6.1 plus the historical ones every proxy drops (Keep-Alive, Proxy-Connection).
// The connection-specific fields and TE, Trailer and the Proxy-Auth ones. Known names are parsed to
// their enum, so one pass over the fields finds them all (instead of one lookup by name in Beast's
// field tree per hop-by-hop name).
bool is_hop_by_hop(http::field name) noexcept {
  return is_connection_specific(name) || name == http::field::te || name == http::field::trailer ||
         name == http::field::proxy_authenticate || name == http::field::proxy_authorization;
}

// Headers a Connection token may not remove: they frame and address the message, and dropping them
// on the client's word would let it change how the next hop reads the stream (request smuggling).
bool is_protected_from_connection_tokens(http::field name) noexcept {
  return name == http::field::host || name == http::field::content_length;
}

// Case-insensitive order of header names and tokens.
bool iless(std::string_view a, std::string_view b) noexcept {
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) {
    const char x = ascii_lower(a[i]);
    const char y = ascii_lower(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

// The tokens of every Connection header, read once and sorted: each field is then looked up among
// them in log time. Reading every Connection header again for every field cost a head of 1,500
// fields and 2,000 tokens three million comparisons. Views into the Connection values, which stay
// in place until the fields they name are gone.
class ConnectionTokens {
 public:
  explicit ConnectionTokens(const http::fields& fields) {
    const auto [first, last] = fields.equal_range(http::field::connection);
    for (auto it = first; it != last; ++it) add(it->value());
    std::sort(tokens_.begin(), tokens_.end(), iless);
  }
  explicit ConnectionTokens(std::span<const FieldView> fields) {
    for (const FieldView& field : fields) {
      if (field.name == http::field::connection) add(field.value);
    }
    std::sort(tokens_.begin(), tokens_.end(), iless);
  }

  bool empty() const noexcept { return tokens_.empty(); }
  bool names(std::string_view name) const noexcept {
    return std::binary_search(tokens_.begin(), tokens_.end(), name, iless);
  }

 private:
  void add(std::string_view value) {
    while (!value.empty()) {
      const std::size_t comma = value.find(',');
      const std::string_view token = trim_ows(value.substr(0, comma));
      if (!token.empty()) tokens_.push_back(token);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }

  // "close" or "keep-alive", perhaps with a header or two: no allocation for the usual head.
  boost::container::small_vector<std::string_view, 4> tokens_;
};

// The one rule of what goes on to the next hop: no hop-by-hop field, and no field the Connection
// header names but those that frame and address the message.
bool goes_on(http::field name, std::string_view name_string, const ConnectionTokens& connection) {
  if (is_hop_by_hop(name)) return false;
  return connection.empty() || is_protected_from_connection_tokens(name) ||
         !connection.names(name_string);
}

}  // namespace

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
}

bool is_connection_specific(http::field name) noexcept {
  switch (name) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::transfer_encoding:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}

void insert_unlisted(http::fields& fields, std::string_view name, std::string_view value) {
  BOOST_ASSERT(http::string_to_field(name) == http::field::unknown);
  fields.insert(http::field::unknown, name, value);
}

void set_unlisted(http::fields& fields, std::string_view name, std::string_view value) {
  fields.erase(name);
  insert_unlisted(fields, name, value);
}

void strip_hop_by_hop(http::fields& fields) {
  // The Connection fields go last: the tokens are views into their values.
  const ConnectionTokens connection(fields);
  boost::container::small_vector<http::fields::const_iterator, 2> connection_fields;
  for (auto it = fields.begin(); it != fields.end();) {
    if (it->name() == http::field::connection) {
      connection_fields.push_back(it++);
    } else {
      it = goes_on(it->name(), it->name_string(), connection) ? std::next(it) : fields.erase(it);
    }
  }
  for (const auto& it : connection_fields) fields.erase(it);
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_form_urlencoded(std::string_view content_type) noexcept {
  const std::string_view media_type = trim_ows(content_type.substr(0, content_type.find(';')));
  return iequals(media_type, "application/x-www-form-urlencoded");
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

char cgi_char(char c) noexcept {
  const char lower = ascii_lower(c);
  return (lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9') ? lower : '_';
}

std::string cgi_name(std::string_view name) {
  std::string out(name.size(), '_');
  for (std::size_t i = 0; i < name.size(); ++i) out[i] = cgi_char(name[i]);
  return out;
}

bool cgi_equivalent(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (cgi_char(a[i]) != cgi_char(b[i])) return false;
  }
  return true;
}

bool has_duplicate(const http::fields& fields, http::field name) {
  const auto [first, last] = fields.equal_range(name);
  return first != last && std::next(first) != last;
}

namespace {

// Sized first, then copied: one growth of `out` and plain copies, instead of four appends (each
// with its capacity check) per field. `host`, when not empty, goes first in place of the fields'
// own Host; `added` after them.
void append_fields(const http::fields& fields, std::string_view host, const AddedFields* added,
                   std::string& out) {
  const auto line_size = [](std::string_view name, std::string_view value) {
    return name.size() + value.size() + 4;
  };
  const bool replace_host = !host.empty();
  std::size_t size = 2;
  if (replace_host) size += line_size("Host", host);
  for (const auto& field : fields) size += line_size(field.name_string(), field.value());
  if (added) {
    for (const auto& [name, value] : added->items()) size += line_size(name, value);
  }
  const std::size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  const auto put = [&p](std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    p += text.size();
  };
  const auto put_line = [&put](std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  };
  if (replace_host) put_line("Host", host);
  for (const auto& field : fields) {
    if (replace_host && field.name() == http::field::host) continue;
    put_line(field.name_string(), field.value());
  }
  if (added) {
    for (const auto& [name, value] : added->items()) put_line(name, value);
  }
  put("\r\n");
  out.resize(static_cast<std::size_t>(p - out.data()));  // less when a Host was left out
}

void append_version(unsigned version, std::string& out) {
  const char text[8] = {'H', 'T',
                        'T', 'P',
                        '/', static_cast<char>('0' + version / 10 % 10),
                        '.', static_cast<char>('0' + version % 10)};
  out.append(text, sizeof text);
}

}  // namespace

void AddedFields::add(std::string_view name, std::string_view value) noexcept {
  BOOST_ASSERT(size_ < kCapacity);
  items_[size_++] = {name, value};
}

void AddedFields::insert_into(http::fields& fields) const {
  for (const auto& [name, value] : items()) fields.insert(name, value);
}

void append_head(const http::request_header<>& head, std::string_view host,
                 const AddedFields& added, std::string& out) {
  out.append(head.method_string());
  out.push_back(' ');
  out.append(head.target());
  out.push_back(' ');
  append_version(head.version(), out);
  out.append("\r\n", 2);
  append_fields(head, host, &added, out);
}

void append_head(const http::request_header<>& head, std::string& out) {
  append_head(head, {}, AddedFields(), out);
}

void append_status_line(unsigned version, unsigned status, std::string_view reason,
                        std::string& out) {
  const char code[3] = {static_cast<char>('0' + status / 100 % 10),
                        static_cast<char>('0' + status / 10 % 10),
                        static_cast<char>('0' + status % 10)};
  append_version(version, out);
  out.push_back(' ');
  out.append(code, sizeof code);
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n", 2);
}

void append_head(const http::response_header<>& head, std::string& out) {
  append_status_line(head.version(), head.result_int(), head.reason(), out);
  append_fields(head, {}, nullptr, out);
}

void append_end_to_end_fields(std::span<const FieldView> fields, std::string_view drop,
                              std::string& out) {
  const ConnectionTokens connection(fields);
  // Decided once per field, then sized and copied: one growth of `out`, plain copies.
  boost::container::small_vector<bool, 16> kept(fields.size());
  std::size_t size = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldView& field = fields[i];
    kept[i] =
        goes_on(field.name, field.name_string, connection) && !iequals(field.name_string, drop);
    if (kept[i]) size += field.name_string.size() + field.value.size() + 4;
  }
  const std::size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!kept[i]) continue;
    const FieldView& field = fields[i];
    p = std::copy(field.name_string.begin(), field.name_string.end(), p);
    *p++ = ':';
    *p++ = ' ';
    p = std::copy(field.value.begin(), field.value.end(), p);
    *p++ = '\r';
    *p++ = '\n';
  }
}

}  // namespace tollgate::http_io
