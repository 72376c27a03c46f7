#include "token_store.hpp"

#include <mutex>

namespace tollgate::dev_idp {
namespace {

bool can_be_active(const TokenRecord& record, std::int64_t now) {
  return now < record.expires_at && record.client->accepts_tokens_of(record.client_generation);
}

}  // namespace

TokenStore::Shard& TokenStore::shard_for(std::string_view token) {
  // The high bits: the map itself buckets by the low ones.
  return shards_[(StringHash{}(token) >> 20) % kShardCount];
}

const TokenStore::Shard& TokenStore::shard_for(std::string_view token) const {
  return shards_[(StringHash{}(token) >> 20) % kShardCount];
}

void TokenStore::insert(std::string token, TokenRecord record) {
  Shard& shard = shard_for(token);
  std::unique_lock lock(shard.mutex);
  shard.records.insert_or_assign(std::move(token), std::move(record));
}

std::optional<std::string> TokenStore::active_answer(std::string_view token,
                                                     std::int64_t now) const {
  const Shard& shard = shard_for(token);
  std::shared_lock lock(shard.mutex);
  const auto it = shard.records.find(token);
  if (it == shard.records.end() || !can_be_active(it->second, now)) return std::nullopt;
  return it->second.introspection;
}

bool TokenStore::revoke(std::string_view token) {
  Shard& shard = shard_for(token);
  std::unique_lock lock(shard.mutex);
  const auto it = shard.records.find(token);
  if (it == shard.records.end()) return false;
  shard.records.erase(it);
  return true;
}

std::size_t TokenStore::purge(std::int64_t now) {
  std::size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    dropped += std::erase_if(shard.records, [now](const auto& entry) {
      const TokenRecord& record = entry.second;
      // A deactivated client's old generation never comes back; a currently inactive client's
      // current generation might (reactivation), so only the generation decides.
      return now >= record.expires_at ||
             record.client_generation != record.client->current_generation();
    });
  }
  return dropped;
}

std::size_t TokenStore::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    total += shard.records.size();
  }
  return total;
}

}  // namespace tollgate::dev_idp
