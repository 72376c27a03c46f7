#include "tollgate/oidc/verified_jwt_cache.hpp"

#include <cstring>

namespace tollgate::oidc {

std::size_t VerifiedJwtCache::index_of(const Sha256& digest) noexcept {
  std::uint64_t bits = 0;
  std::memcpy(&bits, digest.data(), sizeof bits);
  return static_cast<std::size_t>(bits) & (kSlotsPerWorker - 1);
}

const Introspection* VerifiedJwtCache::find(unsigned worker, const Sha256& digest,
                                            std::uint64_t keys_version) const noexcept {
  if (worker >= tables_.size()) return nullptr;
  const std::vector<Slot>& slots = tables_[worker].slots;
  if (slots.empty()) return nullptr;
  const Slot& slot = slots[index_of(digest)];
  if (!slot.claims || slot.keys_version != keys_version || slot.digest != digest) return nullptr;
  return slot.claims.get();
}

void VerifiedJwtCache::remember(unsigned worker, const Sha256& digest, std::uint64_t keys_version,
                                IntrospectionPtr claims) const {
  if (worker >= tables_.size()) return;
  std::vector<Slot>& slots = tables_[worker].slots;
  if (slots.empty()) slots.resize(kSlotsPerWorker);
  slots[index_of(digest)] = Slot{digest, keys_version, std::move(claims)};
}

void VerifiedJwtCache::release_worker(unsigned worker) const {
  if (worker < tables_.size()) std::vector<Slot>().swap(tables_[worker].slots);
}

}  // namespace tollgate::oidc
