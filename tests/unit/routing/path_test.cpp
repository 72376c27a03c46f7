#include "tollgate/routing/path.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tollgate/common/error.hpp"

namespace tollgate::routing {
namespace {

// The normalised path, or "<error>" when the target is refused (keeps the tables below readable).
std::string path_of(std::string_view target) {
  auto normalised = normalise_target(target);
  if (!normalised) {
    EXPECT_EQ(normalised.error(), make_error_code(errc::bad_path)) << target;
    return "<error>";
  }
  return normalised->path;
}

struct Case {
  std::string_view target;
  std::string_view expected_path;
};

class NormaliseAccepts : public ::testing::TestWithParam<Case> {};

TEST_P(NormaliseAccepts, ProducesCanonicalPath) {
  EXPECT_EQ(path_of(GetParam().target), GetParam().expected_path) << GetParam().target;
}

INSTANTIATE_TEST_SUITE_P(
    Canonical, NormaliseAccepts,
    ::testing::Values(
        Case{"/", "/"}, Case{"/orders", "/orders"}, Case{"/orders/", "/orders/"},
        Case{"/orders/1", "/orders/1"},
        // dot segments
        Case{"/public/../admin", "/admin"}, Case{"/a/./b", "/a/b"}, Case{"/a/b/.", "/a/b/"},
        Case{"/a/b/..", "/a/"}, Case{"/a/b/../", "/a/"}, Case{"/a/..", "/"}, Case{"/.", "/"},
        Case{"/a/b/../../c", "/c"}, Case{"/a/.../b", "/a/.../b"}, Case{"/a/..b/.c", "/a/..b/.c"},
        // encoded dots are dots
        Case{"/public/%2e%2e/admin", "/admin"}, Case{"/public/%2E%2E/admin", "/admin"},
        Case{"/public/.%2e/admin", "/admin"}, Case{"/public/%2e/admin", "/public/admin"},
        // duplicate slashes
        Case{"//admin", "/admin"}, Case{"/a//b///c", "/a/b/c"}, Case{"///", "/"},
        Case{"/a//", "/a/"},
        // unreserved characters are decoded, everything else keeps (uppercased) escapes
        Case{"/%61dmin", "/admin"}, Case{"/%7Euser/%2D%5F", "/~user/-_"}, Case{"/a%20b", "/a%20b"},
        Case{"/a%3fb", "/a%3Fb"}, Case{"/caf%c3%a9", "/caf%C3%A9"}, Case{"/a%23b", "/a%23b"},
        Case{"/100%25", "/100%25"},
        // double encoding is decoded once: "%252e" is the literal text "%2e", not a dot
        Case{"/public/%252e%252e/admin", "/public/%252e%252e/admin"},
        // ';' parameters stay part of their segment
        Case{"/admin;x=y", "/admin;x=y"}, Case{"/a;v=1/b", "/a;v=1/b"},
        // case is preserved (routes are case-sensitive)
        Case{"/Admin/ORDERS", "/Admin/ORDERS"},
        // legal sub-delims and ':' '@' kept raw
        Case{"/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
        // characters outside pchar are percent-encoded, not rejected
        Case{"/a\"b", "/a%22b"}, Case{"/{x}|^`", "/%7Bx%7D%7C%5E%60"},
        Case{"/caf\xc3\xa9", "/caf%C3%A9"}));

class NormaliseRejects : public ::testing::TestWithParam<std::string_view> {};

TEST_P(NormaliseRejects, WithBadPath) {
  EXPECT_EQ(path_of(GetParam()), "<error>") << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Unsafe, NormaliseRejects,
                         ::testing::Values(
                             // not origin-form
                             "", "*", "admin", "?x=1", "ftp://host/x",
                             // climbing above the root
                             "/..", "/../admin", "/a/../..", "/%2e%2e/admin", "/a/%2E%2E/../x",
                             // encoded separators
                             "/public/%2E%2E%2Fadmin", "/public%2Fadmin", "/public%2fadmin",
                             "/a%5Cb", "/a%5cb",
                             // raw backslash
                             "/public\\..\\admin",
                             // NUL and control characters, raw or encoded
                             std::string_view("/admin\0", 7), "/admin%00", "/a%0d%0aSet-Cookie:x",
                             "/a%7F", "/a\tb", "/a\x7f", "/a\rb",
                             // raw space, fragment
                             "/a b", "/admin#x", "/a?b#c",
                             // invalid percent-encoding
                             "/a%", "/a%2", "/a%zz", "/a%2g", "/a?x=%", "/a?x=%4",
                             // servlet-style "..;" traversal
                             "/public/..;/admin", "/public/.;/admin", "/public/%2e%2e;x=1/admin",
                             // control characters in the query
                             "/a?x=\x01", "/a?x= y"));

TEST(NormaliseTarget, SplitsQueryAndKeepsItRaw) {
  auto t = normalise_target("/a/../b?x=%2e%2E&y=1/../2");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/b");
  EXPECT_EQ(t->query, "x=%2e%2E&y=1/../2");
}

TEST(NormaliseTarget, EmptyQueryWhenNone) {
  auto t = normalise_target("/a");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->query, "");
  auto with_empty = normalise_target("/a?");
  ASSERT_TRUE(with_empty);
  EXPECT_EQ(with_empty->path, "/a");
  EXPECT_EQ(with_empty->query, "");
}

TEST(NormaliseTarget, AbsoluteFormReturnsAuthority) {
  std::string authority;
  auto t = normalise_target("http://API.example.com:8080/public/../admin?q=1", &authority);
  ASSERT_TRUE(t);
  EXPECT_EQ(authority, "API.example.com:8080");
  EXPECT_EQ(t->path, "/admin");
  EXPECT_EQ(t->query, "q=1");
}

TEST(NormaliseTarget, AbsoluteFormSchemeIsCaseInsensitive) {
  std::string authority;
  auto t = normalise_target("HTTPS://h/x", &authority);
  ASSERT_TRUE(t);
  EXPECT_EQ(authority, "h");
  EXPECT_EQ(t->path, "/x");
}

TEST(NormaliseTarget, AbsoluteFormWithoutPathIsRoot) {
  std::string authority;
  auto bare = normalise_target("http://h", &authority);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(authority, "h");
  auto with_query = normalise_target("http://h?a=b", &authority);
  ASSERT_TRUE(with_query);
  EXPECT_EQ(with_query->path, "/");
  EXPECT_EQ(with_query->query, "a=b");
}

TEST(NormaliseTarget, AbsoluteFormWorksWithoutAuthorityOutput) {
  auto t = normalise_target("http://h/x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/x");
}

TEST(NormaliseTarget, AbsoluteFormRejectsBadAuthority) {
  EXPECT_FALSE(normalise_target("http:///x"));                 // empty authority
  EXPECT_FALSE(normalise_target("http://user:pw@h/x"));        // userinfo
  EXPECT_FALSE(normalise_target("http://h h/x"));              // space
  EXPECT_FALSE(normalise_target("http://h#frag"));             // fragment
  EXPECT_FALSE(normalise_target("http://h/%2e%2e/%2e%2e/x"));  // path rules still apply
}

TEST(NormaliseTarget, AuthorityUntouchedForOriginForm) {
  std::string authority = "unchanged";
  ASSERT_TRUE(normalise_target("/x", &authority));
  EXPECT_EQ(authority, "unchanged");
}

TEST(NormaliseTarget, IsIdempotent) {
  for (std::string_view target :
       {"/public/%2e%2e/admin", "//a/./b/../c/", "/caf%c3%a9/%7e", "/a\"b{c}", "/%252e"}) {
    auto once = normalise_target(target);
    ASSERT_TRUE(once) << target;
    auto twice = normalise_target(once->path);
    ASSERT_TRUE(twice) << once->path;
    EXPECT_EQ(twice->path, once->path);
  }
}

TEST(NormaliseHost, LowercasesAndStripsPort) {
  EXPECT_EQ(normalise_host("API.Example.COM"), "api.example.com");
  EXPECT_EQ(normalise_host("api.example.com:8443"), "api.example.com");
  EXPECT_EQ(normalise_host("localhost:"), "localhost");
  EXPECT_EQ(normalise_host("127.0.0.1:80"), "127.0.0.1");
  EXPECT_EQ(normalise_host("my_host.internal"), "my_host.internal");
}

TEST(NormaliseHost, DropsTrailingDot) {
  EXPECT_EQ(normalise_host("api.example.com."), "api.example.com");
  EXPECT_EQ(normalise_host("api.example.com.:80"), "api.example.com");
}

// Found by fuzzing: "api.example.com.." lost one dot and came out as "api.example.com.", which
// matches no host-bound route, so a catch-all route took requests meant for the bound one.
TEST(NormaliseHost, RejectsTwoTrailingDots) {
  EXPECT_EQ(normalise_host("api.example.com.."), "");
  EXPECT_EQ(normalise_host("api.example.com..:443"), "");
  EXPECT_EQ(normalise_host("a.."), "");
}

// Found by fuzzing: any run of hex digits, colons and dots in brackets passed as an IPv6 address,
// "[1:2:3]" and 300-character ones included.
TEST(NormaliseHost, RejectsBracketsThatHoldNoIpv6Address) {
  for (const std::string& bad :
       {std::string("[1:2:3]"), std::string("[::1::2]"), std::string("[:::]"),
        std::string("[1.2.3.4]"), std::string("[::1.2.3.4.5]"), "[::" + std::string(300, '1') + "]",
        "[::" + std::string(300, '1') + "]:80",
        // found by fuzzing the first version of the check: text after a NUL went unread
        std::string("[::\0[::\0\01]", 11), std::string("[::1\0zz]", 8)}) {
    EXPECT_EQ(normalise_host(bad), "") << bad;
  }
}

TEST(NormaliseHost, KeepsBracketsOfIpv6) {
  EXPECT_EQ(normalise_host("[::1]"), "[::1]");
  EXPECT_EQ(normalise_host("[2001:DB8::1]:8080"), "[2001:db8::1]");
  EXPECT_EQ(normalise_host("[::ffff:127.0.0.1]:1"), "[::ffff:127.0.0.1]");
}

TEST(NormaliseHost, RejectsInvalid) {
  for (std::string_view bad : {"",       ":80",           ".",
                               "..",     "a..b",          ".a",
                               "a b",    "a/b",           "a@b",
                               "a%2eb",  "*.example.com", "::1",
                               "h:port", "h:99999",       "h:123456",
                               "h:1:2",  "[::1",          "[]",
                               "[::1]x", "[::1]:x",       "[fe80::1%eth0]",
                               "[g::1]", "a\x01",         "h\xc3\xa9"}) {
    EXPECT_EQ(normalise_host(bad), "") << bad;
  }
  EXPECT_EQ(normalise_host(std::string(256, 'a')), "");
  EXPECT_EQ(normalise_host(std::string(255, 'a')), std::string(255, 'a'));
}

TEST(NormaliseAuthority, IsTheNormalisedHostWithThePortGiven) {
  EXPECT_EQ(normalise_authority("Shop.Example.COM.:8080"), "shop.example.com:8080");
  EXPECT_EQ(normalise_authority("api.example.com"), "api.example.com");
  EXPECT_EQ(normalise_authority("localhost:"), "localhost");
  EXPECT_EQ(normalise_authority("[2001:DB8::1]:8080"), "[2001:db8::1]:8080");
  EXPECT_EQ(normalise_authority("[::1]"), "[::1]");
  EXPECT_EQ(normalise_authority("[::1]:"), "[::1]");
  EXPECT_EQ(normalise_authority("a..:80"), "");
  EXPECT_EQ(normalise_authority("a:b"), "");
  EXPECT_EQ(normalise_authority(""), "");
}

TEST(AppendNormalisedSegment, NamesTheFaultAndWhereItIs) {
  using Kind = SegmentFault::Kind;
  std::string out;
  EXPECT_EQ(append_normalised_segment("a%7e%2a%c3%A9\"{", out), std::nullopt);
  EXPECT_EQ(out, "a~%2A%C3%A9%22%7B");
  const auto fault_of = [](std::string_view segment) {
    std::string ignored;
    return append_normalised_segment(segment, ignored);
  };
  EXPECT_EQ(fault_of("ab%zz")->kind, Kind::invalid_escape);
  EXPECT_EQ(fault_of("ab%zz")->at, 2u);
  EXPECT_EQ(fault_of("ab%2")->kind, Kind::invalid_escape);
  EXPECT_EQ(fault_of("a%2Fb")->kind, Kind::encoded_separator);
  EXPECT_EQ(fault_of("a%5c")->kind, Kind::encoded_separator);
  EXPECT_EQ(fault_of("a%0D")->kind, Kind::encoded_separator);
  EXPECT_EQ(fault_of("a b")->kind, Kind::forbidden_character);
  EXPECT_EQ(fault_of("ab#")->at, 2u);
  EXPECT_EQ(fault_of("a\\")->kind, Kind::forbidden_character);
}

TEST(WithoutPathParameters, DropsTheParametersOfEverySegment) {
  EXPECT_EQ(without_path_parameters("/admin;x=y"), "/admin");
  EXPECT_EQ(without_path_parameters("/admin;x=y/users;v=2"), "/admin/users");
  EXPECT_EQ(without_path_parameters("/;x=y/admin"), "/admin");
  EXPECT_EQ(without_path_parameters("/admin/;x"), "/admin/");
  EXPECT_EQ(without_path_parameters("/;x"), "/");
  EXPECT_EQ(without_path_parameters("/"), "/");
  EXPECT_EQ(without_path_parameters("/a/b/"), "/a/b/");
}

}  // namespace
}  // namespace tollgate::routing
