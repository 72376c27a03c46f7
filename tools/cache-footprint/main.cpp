// What one cached token costs: fills a TokenCache (the class tollgate uses) with N entries through
// the same parse and store path as real IdP answers, and reports the heap bytes in use and the RSS
// before and after, per entry. Two kinds of answer: inactive (what a flood of random tokens
// produces) and an active Okta-shaped answer with its usual dozen claims.
//
// With --hit-path it reports instead what a request presenting a cached token costs in time and
// heap allocations: the cache lookup and the route's policy, the claim headers, and the
// introspection header, each over the same Okta-shaped answers.
//
// usage: cache-footprint [--entries N] [--answer inactive|active]
//        cache-footprint --hit-path [--iterations N]
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "tollgate/filters/openid_connect/policy.hpp"
#include "tollgate/filters/openid_connect/upstream_headers.hpp"
#include "tollgate/oidc/clock.hpp"
#include "tollgate/oidc/token_cache.hpp"

// Every heap allocation of this process is counted, so the hit path's allocations can be reported,
// and so are the bytes in use, as the allocator rounded them (malloc_usable_size: glibc and
// mimalloc both answer it, where mallinfo2 is glibc's alone).
namespace {
std::atomic<std::size_t> g_allocations{0};
std::atomic<std::size_t> g_heap_bytes{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) {
    g_heap_bytes.fetch_add(malloc_usable_size(memory), std::memory_order_relaxed);
    return memory;
  }
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept {
  if (memory != nullptr)
    g_heap_bytes.fetch_sub(malloc_usable_size(memory), std::memory_order_relaxed);
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  operator delete(memory);
}

namespace {

using namespace tollgate::oidc;
namespace oc = tollgate::filters::openid_connect;

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::size_t heap_in_use() {
  return g_heap_bytes.load(std::memory_order_relaxed);
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

int run_footprint(std::size_t entries, bool active) {
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

struct HitPathFigures {
  double nanoseconds = 0;
  double allocations = 0;
};

// The best of a few rounds of `iterations` calls of `step(i)`: the figure least disturbed by
// other work on the machine.
HitPathFigures measure(std::size_t iterations, const std::function<void(std::size_t)>& step) {
  HitPathFigures best{1e300, 0};
  for (int round = 0; round < 5; ++round) {
    const std::size_t allocations_before = g_allocations.load();
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < iterations; ++i) step(i);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const double n = static_cast<double>(iterations);
    const double ns = std::chrono::duration<double, std::nano>(elapsed).count() / n;
    if (ns < best.nanoseconds) {
      best = {ns, static_cast<double>(g_allocations.load() - allocations_before) / n};
    }
  }
  return best;
}

int run_hit_path(std::size_t iterations) {
  constexpr std::size_t kTokens = 1000;
  CachePolicy cache_policy;
  cache_policy.ttl = std::chrono::hours(1);
  auto cache = TokenCache::create(cache_policy, system_clock());
  const auto now = std::chrono::system_clock::now();
  const long now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::vector<CacheKey> keys;
  for (std::size_t i = 0; i < kTokens; ++i) {
    keys.push_back(make_cache_key("https://example.okta.com/oauth2/default/v1/introspect",
                                  "0oa1example", "token-" + std::to_string(i)));
    auto answer = parse_introspection_response(200, "", active_answer(i, now_s), now);
    if (!answer) throw std::runtime_error("answer did not parse");
    cache->store(keys.back(), *answer);
  }

  // A route as a typical configuration writes it: issuer, scope and audience checked.
  oc::Policy policy;
  policy.issuers_allowed = {"https://example.okta.com/oauth2/default"};
  policy.scopes_required = oc::Requirement({"orders:read"});
  policy.audience_required = oc::Requirement({"api://default"});
  oc::UpstreamHeaders claim_headers;
  claim_headers.claim_headers = {{{"sub"}, "X-Authenticated-User"},
                                 {{"scope"}, "X-Authenticated-Scope"}};
  oc::UpstreamHeaders introspection_header;
  introspection_header.introspection_header = "X-Introspection";

  std::size_t allowed = 0;
  const HitPathFigures policy_figures = measure(iterations, [&](std::size_t i) {
    IntrospectionPtr answer = cache->find(keys[i % kTokens]);
    allowed += oc::evaluate(policy, *answer, now).allowed() ? 1 : 0;
  });
  if (allowed == 0) throw std::runtime_error("the policy refused every answer");
  std::vector<IntrospectionPtr> answers;
  for (const CacheKey& key : keys) answers.push_back(cache->find(key));
  tollgate::filters::RequestHead head;
  const HitPathFigures claim_figures = measure(iterations, [&](std::size_t i) {
    oc::set_upstream_headers(head, claim_headers, *answers[i % kTokens], "token");
  });
  const HitPathFigures introspection_figures = measure(iterations, [&](std::size_t i) {
    oc::set_upstream_headers(head, introspection_header, *answers[i % kTokens], "token");
  });
  std::printf(
      "{\"iterations\": %zu, \"policy_ns\": %.1f, \"policy_allocations\": %.2f, "
      "\"claim_headers_ns\": %.1f, \"claim_headers_allocations\": %.2f, "
      "\"introspection_header_ns\": %.1f, \"introspection_header_allocations\": %.2f}\n",
      iterations, policy_figures.nanoseconds, policy_figures.allocations, claim_figures.nanoseconds,
      claim_figures.allocations, introspection_figures.nanoseconds,
      introspection_figures.allocations);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t entries = 1'000'000;
  std::size_t iterations = 1'000'000;
  bool active = false;
  bool hit_path = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--hit-path") {
      hit_path = true;
    } else if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::stoul(argv[++i]);
    } else if (arg == "--entries" && i + 1 < argc) {
      entries = std::stoul(argv[++i]);
    } else if (arg == "--answer" && i + 1 < argc) {
      const std::string kind = argv[++i];
      if (kind != "active" && kind != "inactive") {
        std::fprintf(stderr, "--answer: expected active or inactive\n");
        return 2;
      }
      active = kind == "active";
    } else {
      std::fprintf(stderr,
                   "usage: cache-footprint [--entries N] [--answer inactive|active]\n"
                   "       cache-footprint --hit-path [--iterations N]\n");
      return 2;
    }
  }
  if (hit_path) {
    if (iterations == 0 || iterations > 100'000'000) {
      std::fprintf(stderr, "--iterations: 1 to 100000000\n");
      return 2;
    }
    return run_hit_path(iterations);
  }
  if (entries == 0 || entries > 10'000'000) {
    std::fprintf(stderr, "--entries: 1 to 10000000\n");
    return 2;
  }
  return run_footprint(entries, active);
}
