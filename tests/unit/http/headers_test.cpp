#include "tollgate/http/headers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include "field_lines.hpp"

namespace tollgate::http_io {
namespace {

namespace http = boost::beast::http;

std::vector<std::string> names_of(const http::fields& fields) {
  std::vector<std::string> names;
  for (const auto& f : fields) names.emplace_back(f.name_string());
  return names;
}

TEST(StripHopByHop, RemovesTheFixedList) {
  http::fields f;
  f.set(http::field::host, "api.example.com");
  f.set(http::field::connection, "keep-alive");
  f.set(http::field::keep_alive, "timeout=5");
  f.set("Proxy-Connection", "keep-alive");
  f.set(http::field::te, "trailers");
  f.set(http::field::trailer, "X-Checksum");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::upgrade, "websocket");
  f.set(http::field::proxy_authenticate, "Basic");
  f.set(http::field::proxy_authorization, "Basic Zm9vOmJhcg==");
  f.set(http::field::authorization, "Bearer t");
  f.set(http::field::content_type, "application/json");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"Host", "Authorization", "Content-Type"}));
}

TEST(StripHopByHop, RemovesEveryCopyWhateverTheSpelling) {
  http::fields f;
  f.insert("KEEP-ALIVE", "timeout=5");
  f.insert("transfer-encoding", "gzip");
  f.insert(http::field::host, "a");
  f.insert("Upgrade", "h2c");
  f.insert("UPGRADE", "websocket");
  f.insert("te", "trailers");
  f.insert("X-Kept", "1");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"Host", "X-Kept"}));
}

TEST(StripHopByHop, RemovesHeadersNamedInConnection) {
  http::fields f;
  f.set(http::field::connection, "close, X-Custom");
  f.set("X-Custom", "1");
  f.set("X-Other", "2");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"X-Other"}));
}

TEST(StripHopByHop, SpoofedIdentityHeaderNamedInConnectionIsRemoved) {
  // A client sending its own identity header and naming it hop-by-hop: both the spoofed value and
  // the Connection header go, so nothing the client said about identity survives the hop.
  http::fields f;
  f.set(http::field::connection, "X-Authenticated-User");
  f.set("X-Authenticated-User", "admin");
  f.set(http::field::authorization, "Bearer t");
  strip_hop_by_hop(f);
  EXPECT_EQ(f.count("X-Authenticated-User"), 0u);
  EXPECT_EQ(f.count(http::field::connection), 0u);
  EXPECT_EQ(f[http::field::authorization], "Bearer t");
}

TEST(StripHopByHop, TokensAreCaseInsensitiveAndWhitespaceTolerant) {
  http::fields f;
  f.insert(http::field::connection, " x-a ,\tX-B\t,, ,keep-alive ");
  f.insert(http::field::connection, "x-C");
  f.insert("X-A", "1");
  f.insert("x-b", "2");
  f.insert("X-C", "3");
  f.insert("X-C", "4");  // every instance goes
  f.insert("X-D", "5");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"X-D"}));
}

TEST(StripHopByHop, TokenMustMatchTheWholeName) {
  http::fields f;
  f.set(http::field::connection, "X-Auth");
  f.set("X-Authenticated-User", "admin");
  f.set("X-Aut", "1");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"X-Authenticated-User", "X-Aut"}));
}

TEST(StripHopByHop, FramingAndHostCannotBeRemovedByConnectionTokens) {
  http::fields f;
  f.set(http::field::connection, "Content-Length, Host, Authorization");
  f.set(http::field::host, "api.example.com");
  f.set(http::field::content_length, "5");
  f.set(http::field::authorization, "Bearer t");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"Host", "Content-Length"}));
}

TEST(StripHopByHop, NothingToDoLeavesFieldsAlone) {
  http::fields f;
  f.insert("A", "1");
  f.insert("B", "2");
  f.insert("A", "3");
  strip_hop_by_hop(f);
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"A", "A", "B"}));
}

TEST(Iequals, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_TRUE(iequals("X-1_Z", "x-1_z"));
  EXPECT_FALSE(iequals("abc", "abd"));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("@", "`"));  // differ only in bit 0x20 but are not letters
  EXPECT_FALSE(iequals("[", "{"));
}

TEST(HasDuplicate, CountsInstancesOfOneField) {
  http::fields f;
  f.insert(http::field::content_length, "5");
  EXPECT_FALSE(has_duplicate(f, http::field::content_length));
  f.insert(http::field::content_length, "5");
  EXPECT_TRUE(has_duplicate(f, http::field::content_length));
  EXPECT_FALSE(has_duplicate(f, http::field::host));
}

TEST(HasDuplicate, IgnoresNameCase) {
  http::fields f;
  f.insert("Content-Length", "1");
  f.insert("content-length", "2");
  EXPECT_TRUE(has_duplicate(f, http::field::content_length));
}

// The names the gateway adds without Beast's name lookup must be names Beast has no enum for: a
// known one stored as unknown would be missed by every lookup by enum (find(field::via)).
TEST(InsertUnlisted, TheGatewaysOwnNamesAreNotInBeastsTable) {
  for (const std::string_view name :
       {kXRequestId, kXForwardedFor, kXForwardedProto, kXForwardedHost,
        std::string_view("traceparent"), std::string_view("tracestate")}) {
    EXPECT_EQ(http::string_to_field(name), http::field::unknown) << name;
  }
}

TEST(InsertUnlisted, FoundByNameInAnyCaseAndSentInOrder) {
  http::fields f;
  f.insert(http::field::host, "a");
  insert_unlisted(f, kXForwardedFor, "10.0.0.1");
  insert_unlisted(f, kXRequestId, "one");
  EXPECT_EQ(f["x-forwarded-for"], "10.0.0.1");
  EXPECT_EQ(f["X-REQUEST-ID"], "one");
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"Host", "X-Forwarded-For", "X-Request-Id"}));
}

TEST(SetUnlisted, ReplacesEveryCopyWhateverItsSpelling) {
  http::fields f;
  f.insert("x-request-id", "from-client");
  f.insert("X-REQUEST-ID", "again");
  f.insert(http::field::host, "a");
  set_unlisted(f, kXRequestId, "ours");
  EXPECT_EQ(f.count(kXRequestId), 1u);
  EXPECT_EQ(f[kXRequestId], "ours");
  EXPECT_EQ(names_of(f), (std::vector<std::string>{"Host", "X-Request-Id"}));
}

// PHP, WSGI and Rack map every byte of a header name that is not a letter or digit to '_'.
TEST(CgiEquivalent, IgnoresCaseAndTreatsEveryNonAlphanumericByteAlike) {
  EXPECT_TRUE(cgi_equivalent("X-Authenticated-User", "x_authenticated_USER"));
  EXPECT_TRUE(cgi_equivalent("Content_Length", "content-length"));
  EXPECT_TRUE(cgi_equivalent("X-User", "X.User"));
  EXPECT_TRUE(cgi_equivalent("X-User", "x~user"));
  EXPECT_TRUE(cgi_equivalent("X.Authenticated.User", "X-Authenticated-User"));
  EXPECT_FALSE(cgi_equivalent("X-User", "X-Users"));
  EXPECT_FALSE(cgi_equivalent("X-User1", "X-User2"));
  EXPECT_EQ(cgi_name("X.Forwarded-For"), "x_forwarded_for");
  EXPECT_EQ(cgi_name("Content-MD5"), "content_md5");
}

// What Beast's own serializer writes for `head`: append_head must write exactly this.
template <bool isRequest>
std::string beast_wire(const http::header<isRequest>& head) {
  http::message<isRequest, http::empty_body> message{head};
  std::ostringstream out;
  out << message;
  return out.str();
}

std::string appended(const auto& head) {
  std::string out = "left as it was|";
  append_head(head, out);
  return out;
}

TEST(AppendHead, WritesARequestHeadAsBeastDoes) {
  http::request_header<> head;
  head.method(http::verb::post);
  head.target("/orders?id=7&x=%2F");
  head.version(11);
  head.set(http::field::host, "api.example.com");
  head.insert("X-Custom", "two  spaces");
  head.insert("X-Custom", "second");
  head.set(http::field::content_length, "12");
  EXPECT_EQ(appended(head), "left as it was|" + beast_wire(head));
  EXPECT_EQ(appended(head),
            "left as it was|POST /orders?id=7&x=%2F HTTP/1.1\r\nHost: api.example.com\r\n"
            "X-Custom: two  spaces\r\nX-Custom: second\r\nContent-Length: 12\r\n\r\n");
}

TEST(AppendHead, KeepsAnUnknownMethodAndHttp10) {
  http::request_header<> head;
  head.method_string("PURGE");
  head.target("/");
  head.version(10);
  EXPECT_EQ(appended(head), "left as it was|PURGE / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(appended(head), "left as it was|" + beast_wire(head));
}

TEST(AppendHead, WritesAResponseHeadWithItsOwnOrTheDefaultReason) {
  http::response_header<> head;
  head.result(http::status::not_found);
  head.version(11);
  head.set(http::field::content_length, "0");
  EXPECT_EQ(appended(head), "left as it was|HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(appended(head), "left as it was|" + beast_wire(head));

  head.result(299);  // no standard reason
  head.reason("Fine By Me");
  EXPECT_EQ(appended(head), "left as it was|" + beast_wire(head));
  EXPECT_EQ(appended(head).substr(15, 25), "HTTP/1.1 299 Fine By Me\r\n");
}

// The target's Host goes first in place of the client's, the added fields after the head's own:
// the head itself is left as it was parsed.
TEST(AppendHead, WritesTheTargetsHostAndTheAddedFields) {
  http::request_header<> head;
  head.method(http::verb::get);
  head.target("/ok");
  head.version(11);
  head.insert("User-Agent", "curl");
  head.set(http::field::host, "public.example");
  AddedFields added;
  added.add("X-Request-Id", "r1");
  added.add("Via", "1.1 tollgate");
  std::string out;
  append_head(head, "10.0.0.5:8080", added, out);
  EXPECT_EQ(out,
            "GET /ok HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nUser-Agent: curl\r\n"
            "X-Request-Id: r1\r\nVia: 1.1 tollgate\r\n\r\n");
  EXPECT_EQ(head[http::field::host], "public.example");

  out.clear();
  append_head(head, "", added, out);  // preserve_host: the client's Host where it was
  EXPECT_EQ(out,
            "GET /ok HTTP/1.1\r\nUser-Agent: curl\r\nHost: public.example\r\n"
            "X-Request-Id: r1\r\nVia: 1.1 tollgate\r\n\r\n");
}

// Writing the target's Host and the added fields flat sends what setting Host in the field tree,
// inserting the added fields there and writing the tree sends (the cold paths), on random heads.
TEST(AppendHead, FlatHostAndAddedFieldsAgreeWithTheFieldTreeOnRandomHeads) {
  const std::vector<std::string> names = {"Host",        "host",   "Accept",      "X-Custom",
                                          "Via",         "Cookie", "traceparent", "X-Forwarded-For",
                                          "X-Request-Id"};
  const std::vector<std::string> added_names = {
      "X-Request-Id",      "traceparent",      "tracestate", "X-Forwarded-For",
      "X-Forwarded-Proto", "X-Forwarded-Host", "Via",        "X-Custom"};
  std::mt19937 random(20261207);
  for (int round = 0; round < 3000; ++round) {
    http::request_header<> head;
    head.method(http::verb::get);
    head.target("/r" + std::to_string(round));
    head.version(random() % 4 == 0 ? 10 : 11);
    const int count = static_cast<int>(random() % 8);
    for (int i = 0; i < count; ++i) {
      head.insert(names[random() % names.size()], "v" + std::to_string(i));
    }
    AddedFields added;
    const auto added_count = random() % (AddedFields::kCapacity + 1);
    std::vector<std::string> values;  // owned here: AddedFields keeps views
    values.reserve(added_count);
    for (std::size_t i = 0; i < added_count; ++i) values.push_back("a" + std::to_string(i));
    for (std::size_t i = 0; i < added_count; ++i) {
      added.add(added_names[random() % added_names.size()], values[i]);
    }
    const std::string host = random() % 3 == 0 ? "" : "upstream:" + std::to_string(round);

    std::string flat;
    append_head(head, host, added, flat);

    http::request_header<> tree = head;
    if (!host.empty()) tree.set(http::field::host, host);
    added.insert_into(tree);
    std::string expected;
    append_head(tree, expected);

    EXPECT_EQ(flat.substr(0, flat.find("\r\n")), expected.substr(0, expected.find("\r\n")));
    EXPECT_EQ(grouped_field_lines_of_head(flat), grouped_field_lines_of_head(expected)) << expected;
    EXPECT_TRUE(flat.ends_with("\r\n\r\n"));
    EXPECT_EQ(flat.size(), expected.size());
  }
}

}  // namespace
}  // namespace tollgate::http_io
