// Every access token the IdP issued and has not forgotten yet. Introspection is the hot path of
// benchmarks, so the store is split into shards, each behind its own reader-writer lock: lookups
// from many threads share locks and rarely meet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "clients.hpp"

namespace tollgate::dev_idp {

struct TokenRecord {
  const Client* client = nullptr;  // clients live as long as the registry, i.e. the process
  std::uint64_t client_generation = 0;
  std::int64_t expires_at = 0;  // seconds since the epoch
  // The complete introspection answer while the token is active, built once at issue time.
  std::string introspection;
};

class TokenStore {
 public:
  // Tokens are keyed by their full text (opaque string or whole JWT): a forged JWT that copies a
  // real token's jti finds nothing.
  void insert(std::string token, TokenRecord record);

  // The introspection answer of an active token; nullopt when the token is unknown, expired,
  // revoked, or its client was deactivated after it was issued.
  std::optional<std::string> active_answer(std::string_view token, std::int64_t now) const;

  // Forgets the token; false when it was not known.
  bool revoke(std::string_view token);

  // Drops records that can never be active again (expired, or of a deactivated generation) so a
  // long benchmark does not grow memory without bound. Returns how many were dropped.
  std::size_t purge(std::int64_t now);

  std::size_t size() const;

 private:
  static constexpr std::size_t kShardCount = 64;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, TokenRecord, StringHash, std::equal_to<>>;

  // Each shard on its own cache line, so locking one does not slow readers of its neighbour.
  struct alignas(64) Shard {
    mutable std::shared_mutex mutex;
    Map records;
  };

  Shard& shard_for(std::string_view token);
  const Shard& shard_for(std::string_view token) const;

  std::array<Shard, kShardCount> shards_;
};

}  // namespace tollgate::dev_idp
