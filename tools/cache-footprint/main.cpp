// What one cached token costs in memory: fills a TokenCache (the class tollgate uses) with N
// entries through the same parse and store path as real IdP answers, and reports the heap bytes in
// use and the RSS before and after, per entry. Two kinds of answer: inactive (what a flood of
// random tokens produces) and an active Okta-shaped answer with its usual dozen claims.
//
// usage: cache-footprint [--entries N] [--answer inactive|active]
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "tollgate/oidc/clock.hpp"
#include "tollgate/oidc/token_cache.hpp"

namespace {

using namespace tollgate::oidc;

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::size_t heap_in_use() {
  return mallinfo2().uordblks + mallinfo2().hblkhd;
}

// An answer as Okta's /v1/introspect gives it for an access token, with per-token values.
std::string active_answer(std::size_t i, long now_s) {
  const long iat = now_s - static_cast<long>(i % 1000);
  return R"({"active":true,"scope":"orders:read profile","username":"user)" + std::to_string(i) +
         R"(@example.com","exp":)" + std::to_string(iat + 3600) + R"(,"iat":)" +
         std::to_string(iat) + R"(,"sub":"user)" + std::to_string(i) +
         R"(@example.com","aud":"api://default","iss":"https://example.okta.com/oauth2/default","jti":"AT.)" +
         std::to_string(1'000'000'000 + i) +
         R"(","token_type":"Bearer","client_id":"0oa1example","uid":"00u)" + std::to_string(i) +
         R"("})";
}

int run(std::size_t entries, bool active) {
  CachePolicy policy;
  // Room to spare: the shards split the bound evenly, the keys fall into them unevenly.
  policy.max_entries = entries + entries / 4;
  policy.ttl = std::chrono::hours(1);
  policy.ttl_negative = std::chrono::hours(1);
  auto cache = TokenCache::create(policy, system_clock());
  const auto now = std::chrono::system_clock::now();
  const long now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

  malloc_trim(0);
  const std::size_t heap_before = heap_in_use();
  const long rss_before = rss_kib();
  for (std::size_t i = 0; i < entries; ++i) {
    const std::string token = "token-" + std::to_string(i);
    const std::string body = active ? active_answer(i, now_s) : R"({"active":false})";
    auto answer = parse_introspection_response(200, "", body, now);
    if (!answer) throw std::runtime_error("answer did not parse");
    cache->store(make_cache_key("https://example.okta.com/oauth2/default/v1/introspect",
                                "0oa1example", token),
                 *answer);
  }
  const std::size_t heap_after = heap_in_use();
  const long rss_after = rss_kib();
  if (cache->size() != entries) throw std::runtime_error("cache did not keep every entry");

  std::printf(
      "{\"answer\": \"%s\", \"entries\": %zu, \"heap_bytes_per_entry\": %.1f, "
      "\"rss_bytes_per_entry\": %.1f, \"heap_mib\": %.1f, \"rss_mib\": %.1f}\n",
      active ? "active" : "inactive", entries,
      static_cast<double>(heap_after - heap_before) / static_cast<double>(entries),
      static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(entries),
      static_cast<double>(heap_after - heap_before) / 1048576.0,
      static_cast<double>(rss_after - rss_before) / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t entries = 1'000'000;
  bool active = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--entries" && i + 1 < argc) {
      entries = std::stoul(argv[++i]);
    } else if (arg == "--answer" && i + 1 < argc) {
      const std::string kind = argv[++i];
      if (kind != "active" && kind != "inactive") {
        std::fprintf(stderr, "--answer: expected active or inactive\n");
        return 2;
      }
      active = kind == "active";
    } else {
      std::fprintf(stderr, "usage: cache-footprint [--entries N] [--answer inactive|active]\n");
      return 2;
    }
  }
  if (entries == 0 || entries > 10'000'000) {
    std::fprintf(stderr, "--entries: 1 to 10000000\n");
    return 2;
  }
  return run(entries, active);
}
