#include "tollgate/config/reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "process.hpp"

namespace tollgate::config {
namespace {

using test::error_of;
using test::read_yaml;
using test::ScopedEnv;
using ::testing::HasSubstr;
using ::testing::Not;

void expect_error(const ConfigError& error, int line, int column, const std::string& key_path,
                  const std::string& message) {
  EXPECT_EQ(error.line, line);
  EXPECT_EQ(error.column, column);
  EXPECT_EQ(error.key_path, key_path);
  EXPECT_EQ(error.message, message);
}

// ---- ConfigError formatting

TEST(ConfigError, FormatsFileLineColumnKeyPathAndMessage) {
  ConfigError error{"config/tollgate.yaml", 31, 7, "plugins.okta.config.cache_ttl",
                    "\"5 minutes\" is not a duration (e.g. 300s)"};
  EXPECT_EQ(error.to_string(),
            "config/tollgate.yaml:31:7: plugins.okta.config.cache_ttl: \"5 minutes\" is not a "
            "duration (e.g. 300s)");
}

TEST(ConfigError, OmitsPositionWhenUnknownAndKeyPathWhenEmpty) {
  EXPECT_EQ((ConfigError{"a.yaml", 0, 0, "", "the file is empty"}).to_string(),
            "a.yaml: the file is empty");
  EXPECT_EQ((ConfigError{"a.yaml", 2, 1, "", "bad"}).to_string(), "a.yaml:2:1: bad");
}

TEST(ConfigError, ExceptionWhatIsTheFormattedLine) {
  ConfigException e(ConfigError{"f.yaml", 1, 2, "k", "m"});
  EXPECT_STREQ(e.what(), "f.yaml:1:2: k: m");
}

// ---- positions and key paths

TEST(Reader, PrintsOneBasedPositionsAndNestedKeyPaths) {
  auto root = read_yaml(
      "routes:\n"
      "  - name: a\n"
      "    match:\n"
      "      paths: [ /a, soon ]\n");
  auto error = error_of([&] { root["routes"].at(0)["match"]["paths"].at(1).duration(); });
  expect_error(error, 4, 20, "routes[0].match.paths[1]", "\"soon\" is not a duration (e.g. 300s)");
}

TEST(Reader, MissingKeyIsPositionedAtItsParent) {
  auto root = read_yaml("top: 1\nupstream:\n  balance: x\n");
  auto error = error_of([&] { root["upstream"]["targets"].string(); });
  expect_error(error, 3, 3, "upstream.targets", "is required");
  EXPECT_FALSE(root["upstream"]["targets"].present());
  EXPECT_FALSE(root["nothing"]["deeper"].present());
}

TEST(Reader, EmptyValueIsPositionedAtItsKeyAndIsNotPresent) {
  auto root = read_yaml("a:\n\n\nb: 1\n");
  EXPECT_FALSE(root["a"].present());
  auto error = error_of([&] { root["a"].string(); });
  expect_error(error, 1, 1, "a", "expected a string, but the value is empty");
  EXPECT_EQ(root["a"].string_or("fallback"), "fallback");
}

TEST(Reader, DuplicateKeyIsAnError) {
  auto root = read_yaml("a: 1\nb: 2\na: 3\n");
  auto error = error_of([&] { root["a"].string(); });
  expect_error(error, 3, 1, "a", "duplicate key");
  auto entries_error = error_of([&] { root.entries(); });
  expect_error(entries_error, 3, 1, "a", "duplicate key");
}

TEST(Reader, EntriesKeepFileOrderWithKeyPaths) {
  auto root = read_yaml("upstreams:\n  zeta: 1\n  alpha: 2\n");
  auto entries = root["upstreams"].entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "zeta");
  EXPECT_EQ(entries[0].second.key_path(), "upstreams.zeta");
  EXPECT_EQ(entries[1].first, "alpha");
  EXPECT_EQ(entries[1].second.string(), "2");
}

TEST(Reader, NonScalarMapKeyIsAnError) {
  auto root = read_yaml("m:\n  [a, b]: 1\n");
  auto error = error_of([&] { root["m"].entries(); });
  EXPECT_EQ(error.line, 2);
  EXPECT_EQ(error.key_path, "m");
  EXPECT_EQ(error.message, "map keys must be plain words, not a list");
}

// ---- unknown keys

TEST(Reader, UnknownKeySuggestsTheClosestKnownOne) {
  auto root = read_yaml("upstream:\n  tagets: []\n  balance: round_robin\n");
  auto error = error_of([&] { root["upstream"].expect_keys({"targets", "balance", "keepalive"}); });
  expect_error(error, 2, 3, "upstream.tagets", "unknown key (did you mean \"targets\"?)");
}

TEST(Reader, UnknownKeyWithoutCloseMatchListsTheKnownOnes) {
  auto root = read_yaml("log:\n  colour: red\n");
  auto error = error_of([&] { root["log"].expect_keys({"level", "format"}); });
  expect_error(error, 2, 3, "log.colour", "unknown key (expected one of: level, format)");
}

TEST(Reader, ExpectKeysAcceptsKnownKeysAndAbsentMaps) {
  auto root = read_yaml("log:\n  level: info\n");
  EXPECT_NO_THROW(root["log"].expect_keys({"level", "format"}));
  EXPECT_NO_THROW(root["absent"].expect_keys({"x"}));
}

TEST(DidYouMean, FindsTyposButNotUnrelatedWords) {
  std::vector<std::string> words{"orders", "okta", "payments"};
  EXPECT_EQ(did_you_mean("order", words), "orders");
  EXPECT_EQ(did_you_mean("okat", words), "okta");  // swapped letters count as one typo
  EXPECT_EQ(did_you_mean("Payments", words), "payments");
  EXPECT_EQ(did_you_mean("users", words), std::nullopt);
  EXPECT_EQ(did_you_mean("ok", words), std::nullopt);  // two edits in a short word is a guess
  EXPECT_EQ(did_you_mean("x", {}), std::nullopt);
}

TEST(DidYouMean, FindsAbbreviationsAndLongerForms) {
  EXPECT_EQ(did_you_mean("conf", {"name", "config"}), "config");
  EXPECT_EQ(did_you_mean("warning", {"info", "warn", "error"}), "warn");
  EXPECT_EQ(did_you_mean("max_header", {"max_body_bytes", "max_header_bytes"}), "max_header_bytes");
  // A real typo beats a prefix.
  EXPECT_EQ(did_you_mean("paths", {"paths_prefix", "path"}), "path");
  EXPECT_EQ(did_you_mean("tim", {"timeouts"}), std::nullopt);  // too short to be a prefix
}

// ---- wrong types

TEST(Reader, WrongTypesSayWhatWasExpected) {
  auto root = read_yaml("s: [a]\nl: word\nm: [1]\nb: maybe\ni: 1.5\nr: 300\n");
  expect_error(error_of([&] { root["s"].string(); }), 1, 4, "s", "expected a string, not a list");
  expect_error(error_of([&] { root["l"].expect_sequence(); }), 2, 4, "l",
               "expected a list, not \"word\"");
  expect_error(error_of([&] { root["m"].expect_map(); }), 3, 4, "m", "expected a map, not a list");
  expect_error(error_of([&] { root["m"]["k"]; }), 3, 4, "m", "expected a map, not a list");
  expect_error(error_of([&] { root["b"].boolean(); }), 4, 4, "b",
               "expected true or false, not \"maybe\"");
  expect_error(error_of([&] { root["i"].integer(0, 10); }), 5, 4, "i",
               "expected a whole number, not \"1.5\"");
  expect_error(error_of([&] { root["r"].integer(1, 256); }), 6, 4, "r",
               "must be between 1 and 256, not 300");
  expect_error(error_of([&] { root["l"].items(); }), 2, 4, "l", "expected a list, not \"word\"");
}

TEST(Reader, ScalarsOfAnyStyleAreStrings) {
  auto root = read_yaml("a: 12345\nb: 'quoted'\nc: \"true\"\n");
  EXPECT_EQ(root["a"].string(), "12345");
  EXPECT_EQ(root["b"].string(), "quoted");
  EXPECT_EQ(root["c"].string(), "true");
}

TEST(Reader, BooleansIntegersAndDefaults) {
  auto root = read_yaml("t: true\nf: False\nn: -3\n");
  EXPECT_TRUE(root["t"].boolean());
  EXPECT_FALSE(root["f"].boolean());
  EXPECT_EQ(root["n"].integer(-10, 10), -3);
  EXPECT_TRUE(root["missing"].boolean_or(true));
  EXPECT_EQ(root["missing"].integer_or(7, 0, 10), 7);
}

TEST(Reader, StringListAcceptsOneStringOrAList) {
  auto root = read_yaml("one: GET\nmany: [GET, POST]\nbad: {a: b}\nnested: [[a]]\n");
  EXPECT_EQ(root["one"].string_list(), std::vector<std::string>{"GET"});
  EXPECT_EQ(root["many"].string_list(), (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(root["missing"].string_list_or({"x"}), std::vector<std::string>{"x"});
  expect_error(error_of([&] { root["bad"].string_list(); }), 3, 6, "bad",
               "expected a list of strings, not a map");
  expect_error(error_of([&] { root["nested"].string_list(); }), 4, 10, "nested[0]",
               "expected a string, not a list");
}

TEST(Reader, OneOfAcceptsAChoiceAndSuggestsOnTypos) {
  auto root = read_yaml("good: least_conn\nbad: round-robin\nfar: random\n");
  EXPECT_EQ(root["good"].one_of({"round_robin", "least_conn"}), "least_conn");
  EXPECT_EQ(root["missing"].one_of_or("round_robin", {"round_robin", "least_conn"}), "round_robin");
  expect_error(error_of([&] {
                 root["bad"].one_of({"round_robin", "least_conn"});
               }),
               2, 6, "bad",
               "\"round-robin\" is not one of: round_robin, least_conn (did you mean "
               "\"round_robin\"?)");
  expect_error(error_of([&] {
                 root["far"].one_of({"round_robin", "least_conn"});
               }),
               3, 6, "far", "\"random\" is not one of: round_robin, least_conn");
}

// ---- durations and sizes

TEST(Reader, DurationsTakeUnitsAndBareNumbersAreSeconds) {
  auto root = read_yaml("a: 250ms\nb: 5s\nc: 2m\nd: 1h\ne: 30\nf: 0s\n");
  EXPECT_EQ(root["a"].duration(), Duration(250));
  EXPECT_EQ(root["b"].duration(), Duration(5'000));
  EXPECT_EQ(root["c"].duration(), Duration(120'000));
  EXPECT_EQ(root["d"].duration(), Duration(3'600'000));
  EXPECT_EQ(root["e"].duration(), Duration(30'000));
  EXPECT_EQ(root["f"].duration(), Duration(0));
  EXPECT_EQ(root["missing"].duration_or(Duration(9)), Duration(9));
}

TEST(Reader, MalformedDurationsAreRejected) {
  auto root = read_yaml(
      "plugins:\n  okta:\n    config:\n      cache_ttl: 5 minutes\n"
      "x: [5S, -1s, 1.5s, s, 5 s, 99999999999999999999s, 9999999999999999h, {a: 1}]\n");
  expect_error(error_of([&] { root["plugins"]["okta"]["config"]["cache_ttl"].duration(); }), 4, 18,
               "plugins.okta.config.cache_ttl", "\"5 minutes\" is not a duration (e.g. 300s)");
  auto items = root["x"].items();
  for (std::size_t i = 0; i + 1 < items.size(); ++i) {
    auto error = error_of([&] { items[i].duration(); });
    EXPECT_THAT(error.message, HasSubstr("is not a duration (e.g. 300s)")) << i;
  }
  EXPECT_EQ(error_of([&] { items.back().duration(); }).message,
            "expected a duration (e.g. 300s), not a map");
}

TEST(Reader, SizesTakeBinaryAndDecimalUnits) {
  auto root = read_yaml("a: 16KiB\nb: 10MiB\nc: 1GiB\nd: 4KB\ne: 512\nf: 2MB\ng: 7B\n");
  EXPECT_EQ(root["a"].size_bytes(), 16u * 1024);
  EXPECT_EQ(root["b"].size_bytes(), 10u * 1024 * 1024);
  EXPECT_EQ(root["c"].size_bytes(), 1024u * 1024 * 1024);
  EXPECT_EQ(root["d"].size_bytes(), 4000u);
  EXPECT_EQ(root["e"].size_bytes(), 512u);
  EXPECT_EQ(root["f"].size_bytes(), 2'000'000u);
  EXPECT_EQ(root["g"].size_bytes(), 7u);
  EXPECT_EQ(root["missing"].size_bytes_or(3), 3u);
}

TEST(Reader, MalformedSizesAreRejected) {
  auto root =
      read_yaml("limits:\n  max_body_bytes: 10 MiB\nx: [10mib, -1, 1.5KiB, KiB, 20000000000GiB]\n");
  expect_error(error_of([&] { root["limits"]["max_body_bytes"].size_bytes(); }), 2, 19,
               "limits.max_body_bytes", "\"10 MiB\" is not a size (e.g. 16KiB, 10MiB)");
  for (const auto& item : root["x"].items()) {
    EXPECT_THAT(error_of([&] { item.size_bytes(); }).message, HasSubstr("is not a size"))
        << item.key_path();
  }
}

// ---- environment expansion

TEST(ExpandEnvironment, ReplacesVariablesAndDefaultsInEveryValue) {
  ScopedEnv id("TOLLGATE_TEST_CLIENT_ID", "gateway");
  ScopedEnv empty("TOLLGATE_TEST_EMPTY", "");
  auto node = YAML::Load(
      "client_id: ${TOLLGATE_TEST_CLIENT_ID}\n"
      "url: http://${TOLLGATE_TEST_UNSET_HOST:-127.0.0.1}:${TOLLGATE_TEST_UNSET_PORT:-9000}/x\n"
      "empty_with_default: ${TOLLGATE_TEST_EMPTY:-fallback}\n"
      "empty: \"${TOLLGATE_TEST_EMPTY}\"\n"
      "list: [ \"a-${TOLLGATE_TEST_CLIENT_ID}\", { deep: \"${TOLLGATE_TEST_CLIENT_ID}\" } ]\n"
      "literal: $${TOLLGATE_TEST_CLIENT_ID}\n"
      "${TOLLGATE_TEST_CLIENT_ID}: key names are left alone\n");
  expand_environment(node, "t.yaml");
  EXPECT_EQ(node["client_id"].Scalar(), "gateway");
  EXPECT_EQ(node["url"].Scalar(), "http://127.0.0.1:9000/x");
  EXPECT_EQ(node["empty_with_default"].Scalar(), "fallback");
  EXPECT_EQ(node["empty"].Scalar(), "");
  EXPECT_EQ(node["list"][0].Scalar(), "a-gateway");
  EXPECT_EQ(node["list"][1]["deep"].Scalar(), "gateway");
  EXPECT_EQ(node["literal"].Scalar(), "${TOLLGATE_TEST_CLIENT_ID}");
  EXPECT_TRUE(node["${TOLLGATE_TEST_CLIENT_ID}"].IsDefined());
}

TEST(ExpandEnvironment, ValuesAreNotExpandedTwice) {
  // A value that itself looks like a reference stays as it is, also when reached through an alias.
  ScopedEnv tricky("TOLLGATE_TEST_TRICKY", "${TOLLGATE_TEST_NEVER_SET}");
  auto node = YAML::Load("a: &A x${TOLLGATE_TEST_TRICKY}\nb: *A\n");
  expand_environment(node, "t.yaml");
  EXPECT_EQ(node["a"].Scalar(), "x${TOLLGATE_TEST_NEVER_SET}");
  EXPECT_EQ(node["b"].Scalar(), "x${TOLLGATE_TEST_NEVER_SET}");
}

TEST(ExpandEnvironment, UnsetVariableWithoutDefaultNamesItAndItsPosition) {
  ::unsetenv("TOLLGATE_TEST_OKTA_SECRET");
  auto node = YAML::Load(
      "plugins:\n  okta:\n    config:\n      client_secret: ${TOLLGATE_TEST_OKTA_SECRET}\n");
  auto error = error_of([&] { expand_environment(node, "conf.yaml"); });
  EXPECT_EQ(error.file, "conf.yaml");
  expect_error(error, 4, 22, "plugins.okta.config.client_secret",
               "environment variable TOLLGATE_TEST_OKTA_SECRET is not set");
}

TEST(ExpandEnvironment, MalformedReferencesAreErrors) {
  auto unterminated = YAML::Load("a: ${NAME\n");
  expect_error(error_of([&] { expand_environment(unterminated, "t.yaml"); }), 1, 4, "a",
               "unterminated ${ in \"${NAME\" (write $${ for a literal ${)");
  auto bad_name = YAML::Load("list:\n  - ${1ABC}\n");
  expect_error(error_of([&] { expand_environment(bad_name, "t.yaml"); }), 2, 5, "list[0]",
               "invalid environment variable reference ${1ABC} (expected ${NAME} or "
               "${NAME:-default})");
}

TEST(ExpandEnvironment, AliasBombsAreWalkedOnce) {
  // Each level doubles the paths through the graph; a naive walk would visit 2^40 nodes.
  std::string text = "l0: &l0 [\"${TOLLGATE_TEST_UNSET_BOMB:-x}\"]\n";
  for (int i = 1; i <= 40; ++i) {
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [*l" + std::to_string(i - 1) +
            ", *l" + std::to_string(i - 1) + "]\n";
  }
  auto node = YAML::Load(text);
  expand_environment(node, "t.yaml");
  EXPECT_EQ(node["l0"][0].Scalar(), "x");
}

TEST(ExpandEnvironment, SelfReferencingDocumentsTerminate) {
  auto node = YAML::Load("a: &a { self: *a, v: \"${TOLLGATE_TEST_UNSET_CYCLE:-y}\" }\n");
  expand_environment(node, "t.yaml");
  EXPECT_EQ(node["a"]["v"].Scalar(), "y");
  EXPECT_EQ(node["a"]["self"]["self"]["v"].Scalar(), "y");
}

// ---- secret files

TEST(Reader, SecretFileIsReadAndItsTrailingNewlineTrimmed) {
  tollgate::test::TempDir dir;
  auto path = dir.write("secret", "s3cr3t-value\n");
  auto root = read_yaml("client_secret: { secret_file: " + path + " }\n");
  EXPECT_EQ(root["client_secret"].string(), "s3cr3t-value");
  EXPECT_EQ(root["client_secret"].string_list(), std::vector<std::string>{"s3cr3t-value"});
}

TEST(Reader, SecretFilePathTakesEnvironmentVariables) {
  tollgate::test::TempDir dir;
  dir.write("id", "abc\r\n");
  ScopedEnv secrets("TOLLGATE_TEST_SECRETS_DIR", dir.path());
  auto node = YAML::Load("client_id:\n  secret_file: ${TOLLGATE_TEST_SECRETS_DIR}/id\n");
  expand_environment(node, "t.yaml");
  Reader root(node, "", std::make_shared<const std::string>("t.yaml"));
  EXPECT_EQ(root["client_id"].string(), "abc");
}

TEST(Reader, UnreadableSecretFileNamesThePath) {
  auto root = read_yaml("client_secret:\n  secret_file: /nonexistent/tollgate/secret\n");
  auto error = error_of([&] { root["client_secret"].string(); });
  expect_error(error, 2, 16, "client_secret.secret_file",
               "cannot read secret file \"/nonexistent/tollgate/secret\": No such file or "
               "directory");
}

TEST(Reader, EmptySecretFileIsAnErrorThatNeverShowsContent) {
  tollgate::test::TempDir dir;
  auto empty = dir.write("empty", "\n\n");
  auto root = read_yaml("a: { secret_file: " + empty + " }\n");
  auto error = error_of([&] { root["a"].string(); });
  EXPECT_EQ(error.message, "secret file \"" + empty + "\" is empty");

  auto big = dir.write("big", std::string(70 * 1024, 'k') + "TOPSECRET");
  auto big_root = read_yaml("a: { secret_file: " + big + " }\n");
  auto big_error = error_of([&] { big_root["a"].string(); });
  EXPECT_EQ(big_error.message, "secret file \"" + big + "\" is larger than 64KiB");
  EXPECT_THAT(big_error.to_string(), Not(HasSubstr("TOPSECRET")));
}

TEST(Reader, SecretFileMapRejectsOtherKeys) {
  auto typo = read_yaml("a: { secret_fil: /x }\n");
  expect_error(error_of([&] { typo["a"].string(); }), 1, 6, "a.secret_fil",
               "unknown key (did you mean \"secret_file\"?)");
  auto extra = read_yaml("a: { secret_file: /x, mode: 1 }\n");
  expect_error(error_of([&] { extra["a"].string(); }), 1, 23, "a.mode",
               "unknown key (expected one of: secret_file)");
  auto nested = read_yaml("a: &self { secret_file: *self }\n");
  expect_error(error_of([&] { nested["a"].string(); }), 1, 4, "a.secret_file",
               "expected a file path");
  auto other = read_yaml("a: { b: 1 }\n");
  expect_error(error_of([&] { other["a"].string(); }), 1, 4, "a", "expected a string, not a map");
}

}  // namespace
}  // namespace tollgate::config
