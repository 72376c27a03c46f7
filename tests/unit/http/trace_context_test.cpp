#include "tollgate/http/trace_context.hpp"

#include <random>
#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace tollgate::http_io {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string as_string(const std::array<char, kTraceparentSize>& text) {
  return std::string(text.data(), text.size());
}

TEST(Traceparent, ValidVersion00IsParsed) {
  const auto parent = parse_traceparent(kValid);
  ASSERT_TRUE(parent);
  EXPECT_EQ(parent->version, 0);
  EXPECT_EQ(std::string_view(parent->trace_id.data(), 32), kTraceId);
  EXPECT_EQ(std::string_view(parent->parent_id.data(), 16), "00f067aa0ba902b7");
  EXPECT_EQ(parent->flags, 1);
  EXPECT_EQ(as_string(format_traceparent(*parent)), kValid);
  EXPECT_EQ(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->flags, 0);
  EXPECT_EQ(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")->flags,
            0xff);
}

TEST(Traceparent, OptionalWhiteSpaceAroundTheValueIsIgnoredButNotInside) {
  EXPECT_TRUE(parse_traceparent(" \t" + std::string(kValid) + "\t "));
  EXPECT_FALSE(parse_traceparent("00- 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 x"));
  EXPECT_FALSE(parse_traceparent(std::string(kValid) + "\n"));
}

TEST(Traceparent, UpperCaseHexIsInvalidInEveryField) {
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"));
  EXPECT_FALSE(parse_traceparent("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(Traceparent, AllZeroIdsAreInvalid) {
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(Traceparent, WrongLengthsAndShapesAreInvalid) {
  EXPECT_FALSE(parse_traceparent(""));
  EXPECT_FALSE(parse_traceparent("00"));
  EXPECT_FALSE(parse_traceparent(kValid.substr(0, 54)));  // one flag digit
  EXPECT_FALSE(parse_traceparent(std::string(kValid) + "0"));
  EXPECT_FALSE(parse_traceparent(std::string(kValid) + "-"));  // version 00 has four fields
  EXPECT_FALSE(parse_traceparent(std::string(kValid) + "-extra"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701"));
  EXPECT_FALSE(parse_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"));
  EXPECT_FALSE(parse_traceparent("0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e47g6-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
}

TEST(Traceparent, VersionFfIsInvalid) {
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
}

TEST(Traceparent, AHigherVersionIsReadByItsFirstFourFields) {
  const auto plain = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->version, 0xcc);
  const auto extended = parse_traceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-will-be-like");
  ASSERT_TRUE(extended);
  EXPECT_EQ(extended->flags, 0x09);
  // Written on as version 00, the highest known here.
  EXPECT_EQ(as_string(format_traceparent(*extended)),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  // The flags must be followed by the end or a '-'.
  EXPECT_FALSE(parse_traceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like"));
  EXPECT_FALSE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));
  EXPECT_FALSE(parse_traceparent("cc-00000000000000000000000000000000-00f067aa0ba902b7-01"));
}

// The spec's grammar, written independently of the parser: version 00 exactly, or a higher
// version (not ff) whose flags end the value or are followed by '-'; neither id all zeros.
bool spec_accepts(const std::string& raw) {
  static const std::regex kShape(
      "^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?[ \t]*$");
  std::smatch m;
  if (!std::regex_match(raw, m, kShape)) return false;
  if (m[1] == "ff") return false;
  if (m[1] == "00" && m[4].matched) return false;
  if (m[2] == std::string(32, '0') || m[3] == std::string(16, '0')) return false;
  return true;
}

std::string trimmed(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// Random strings near the valid shape (mutated, cut, extended valid values) and far from it:
// the parser agrees with the grammar on every one, and what it accepts round-trips.
TEST(Traceparent, AgreesWithTheGrammarOnManySeededRandomStrings) {
  static constexpr std::string_view kAlphabet = "0123456789abcdefABCDEFgz-- \t\r0000ff";
  std::mt19937_64 random(20261206);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
  auto random_char = [&] { return kAlphabet[pick(kAlphabet.size())]; };
  auto hex = [&](std::size_t n) {
    if (pick(10) == 0) return std::string(n, '0');  // the all-zero ids
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += "0123456789abcdef"[pick(16)];
    return out;
  };
  int accepted = 0;
  constexpr int kRounds = 20'000;
  for (int round = 0; round < kRounds; ++round) {
    std::string s;
    if (pick(5) == 0) {
      const std::size_t length = pick(70);
      for (std::size_t i = 0; i < length; ++i) s += random_char();
    } else {
      const std::string version = pick(3) == 0 ? hex(2) : "00";
      s = version + "-" + hex(32) + "-" + hex(16) + "-" + hex(2);
      if (pick(4) == 0) s += (pick(2) == 0 ? "-" : "") + hex(pick(8));
      for (std::size_t m = pick(3); m > 0; --m) {
        switch (pick(4)) {
          case 0:
            s[pick(s.size())] = random_char();
            break;
          case 1:
            s.erase(pick(s.size()), 1);
            break;
          case 2:
            s.insert(pick(s.size() + 1), 1, random_char());
            break;
          default:
            s = (pick(2) == 0 ? " " : "\t") + s + (pick(2) == 0 ? " " : "");
        }
      }
    }
    const auto parsed = parse_traceparent(s);
    ASSERT_EQ(parsed.has_value(), spec_accepts(s)) << '"' << s << '"';
    if (!parsed) continue;
    ++accepted;
    const std::string value = trimmed(s);
    const std::string expected = "00" + value.substr(2, kTraceparentSize - 2);
    ASSERT_EQ(as_string(format_traceparent(*parsed)), expected) << s;
    ASSERT_TRUE(parse_traceparent(expected));
  }
  // Both answers were exercised.
  EXPECT_GT(accepted, kRounds / 10);
  EXPECT_LT(accepted, kRounds * 9 / 10);
}

TEST(Tracestate, ValidListsAreAccepted) {
  EXPECT_TRUE(valid_tracestate("congo=t61rcWkgMzE"));
  EXPECT_TRUE(valid_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(valid_tracestate("rojo=1 , congo=2,\t,"));  // empty members, white space
  EXPECT_TRUE(valid_tracestate(""));
  EXPECT_TRUE(valid_tracestate("fw529a3039@dt=FW4;0;0;0;0;0;0;f9,1a-2f@x/y*z=  a b"));
  std::string members;
  for (int i = 0; i < 32; ++i) members += (i ? "," : "") + ("k" + std::to_string(i)) + "=v";
  EXPECT_TRUE(valid_tracestate(members));
  EXPECT_FALSE(valid_tracestate(members + ",k32=v"));  // 33 members
}

TEST(Tracestate, MalformedListsAreRefused) {
  EXPECT_FALSE(valid_tracestate("congo"));
  EXPECT_FALSE(valid_tracestate("Congo=1"));         // upper-case key
  EXPECT_FALSE(valid_tracestate("_congo=1"));        // key starts with neither letter nor digit
  EXPECT_FALSE(valid_tracestate("congo="));          // empty value
  EXPECT_FALSE(valid_tracestate("congo=a=b"));       // '=' in the value
  EXPECT_FALSE(valid_tracestate("congo=a\tb"));      // tab in the value
  EXPECT_FALSE(valid_tracestate("congo=\xc3\xa9"));  // not ASCII
  EXPECT_FALSE(valid_tracestate("congo =1"));
  EXPECT_FALSE(valid_tracestate("congo=1,congo=2"));  // a key twice
  EXPECT_FALSE(valid_tracestate(std::string(257, 'k') + "=1"));
  EXPECT_FALSE(valid_tracestate("k=" + std::string(257, 'v')));
  EXPECT_TRUE(valid_tracestate(std::string(256, 'k') + "=" + std::string(256, 'v')));
}

class TraceSpan : public ::testing::Test {
 protected:
  IdRandom random{42};
  http::fields incoming;

  TraceContext span() { return TraceContext::start_span(incoming, random); }
};

TEST_F(TraceSpan, AValidParentIsContinuedWithANewSpanAndItsTracestate) {
  incoming.insert(kTraceparent, kValid);
  incoming.insert(kTracestate, "congo=t61rcWkgMzE");
  incoming.insert(kTracestate, "rojo=00f067aa0ba902b7");
  const TraceContext trace = span();
  const auto parent = parse_traceparent(trace.traceparent());
  ASSERT_TRUE(parent);
  EXPECT_EQ(trace.trace_id(), kTraceId);
  EXPECT_EQ(std::string_view(parent->trace_id.data(), 32), kTraceId);
  EXPECT_NE(std::string_view(parent->parent_id.data(), 16), "00f067aa0ba902b7");
  EXPECT_EQ(parent->flags, kSampledFlag);
  EXPECT_EQ(trace.tracestate(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

TEST_F(TraceSpan, OnlyTheSampledFlagIsKept) {
  incoming.insert(kTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  EXPECT_TRUE(span().traceparent().ends_with("-00"));
  incoming.set(kTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe");
  EXPECT_TRUE(span().traceparent().ends_with("-00"));
  incoming.set(kTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b");
  EXPECT_TRUE(span().traceparent().ends_with("-01"));
}

TEST_F(TraceSpan, AbsentOrInvalidStartsASampledTraceWithoutTracestate) {
  incoming.insert(kTracestate, "congo=t61rcWkgMzE");
  const TraceContext none = span();
  incoming.insert(kTraceparent, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-00");
  const TraceContext upper = span();
  for (const TraceContext* trace : {&none, &upper}) {
    ASSERT_EQ(trace->traceparent().size(), kTraceparentSize);
    const auto parsed = parse_traceparent(trace->traceparent());
    ASSERT_TRUE(parsed) << trace->traceparent();
    EXPECT_EQ(parsed->version, 0);
    EXPECT_EQ(parsed->flags, kSampledFlag);
    EXPECT_TRUE(trace->tracestate().empty());
  }
  EXPECT_NE(none.trace_id(), upper.trace_id());
  EXPECT_NE(upper.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(TraceSpan, TwoTraceparentFieldsStartANewTrace) {
  incoming.insert(kTraceparent, kValid);
  incoming.insert(kTraceparent, kValid);
  incoming.insert(kTracestate, "congo=t61rcWkgMzE");
  const TraceContext trace = span();
  EXPECT_NE(trace.trace_id(), kTraceId);
  EXPECT_TRUE(trace.tracestate().empty());
}

TEST_F(TraceSpan, TracestateOverTheLimitOrMalformedOrEmptyIsDropped) {
  incoming.insert(kTraceparent, kValid);
  // 512 bytes exactly: kept.
  const std::string at_limit = "a=" + std::string(254, 'x') + ",b=" + std::string(253, 'y');
  ASSERT_EQ(at_limit.size(), TraceContext::kMaxTracestate);
  incoming.insert(kTracestate, at_limit);
  EXPECT_EQ(span().tracestate(), at_limit);
  // One more byte, in a second field: dropped whole.
  incoming.insert(kTracestate, "");
  EXPECT_TRUE(span().tracestate().empty());
  incoming.set(kTracestate, "congo=1,congo=2");
  EXPECT_TRUE(span().tracestate().empty());
  incoming.set(kTracestate, " , ");
  EXPECT_TRUE(span().tracestate().empty());
  EXPECT_EQ(span().trace_id(), kTraceId);  // a bad tracestate leaves the traceparent alone
}

TEST_F(TraceSpan, SpanIdsDifferPerRequest) {
  incoming.insert(kTraceparent, kValid);
  EXPECT_NE(span().traceparent(), span().traceparent());
}

TEST_F(TraceSpan, ApplyReplacesWhatTheClientSent) {
  incoming.insert(kTraceparent, kValid);
  incoming.insert(kTracestate, "congo=1");
  incoming.insert(kTracestate, "rojo=2");
  const TraceContext trace = span();
  http::fields outgoing = incoming;
  trace.apply(outgoing);
  EXPECT_EQ(outgoing.count(kTraceparent), 1u);
  EXPECT_EQ(outgoing[kTraceparent], trace.traceparent());
  EXPECT_EQ(outgoing.count(kTracestate), 1u);
  EXPECT_EQ(outgoing[kTracestate], "congo=1,rojo=2");

  http::fields untraced = incoming;
  TraceContext().apply(untraced);
  EXPECT_EQ(untraced.count(kTraceparent), 0u);
  EXPECT_EQ(untraced.count(kTracestate), 0u);
}

}  // namespace
}  // namespace tollgate::http_io
