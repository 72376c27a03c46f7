// JWTs a worker has already verified, so a token presented again costs a SHA-256 and a compare
// instead of a signature check and a JSON parse.
//
// One table per worker, touched only on its thread: no lock, no atomic, and a hit hands out a
// reference, not a counted pointer. Direct-mapped: a token displaces whatever shared its slot, so
// memory is fixed whatever the clients send. An entry is good only under the key set it was
// verified with: any change of the JWKS (a rotation, a withdrawn key) makes every entry a miss.
// exp and nbf are not checked here: the route's policy checks them on every request, hit or not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tollgate/common/hash.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::oidc {

class VerifiedJwtCache {
 public:
  static constexpr std::size_t kSlotsPerWorker = 4096;  // a power of two

  explicit VerifiedJwtCache(unsigned workers) : tables_(workers) {}

  // The claims of the token whose SHA-256 is `digest`, verified under `keys_version`; nullptr
  // when this worker holds no such entry. The reference lasts until the worker's next remember().
  const Introspection* find(unsigned worker, const Sha256& digest,
                            std::uint64_t keys_version) const noexcept;
  void remember(unsigned worker, const Sha256& digest, std::uint64_t keys_version,
                IntrospectionPtr claims) const;
  // Drops worker `worker`'s entries, on its thread, once it serves no more requests.
  void release_worker(unsigned worker) const;

 private:
  struct Slot {
    Sha256 digest{};
    std::uint64_t keys_version = 0;
    IntrospectionPtr claims;
  };
  // Allocated on the worker's first remember(): instances that never see a JWT cost nothing.
  struct alignas(64) Table {
    std::vector<Slot> slots;
  };

  static std::size_t index_of(const Sha256& digest) noexcept;

  mutable std::vector<Table> tables_;
};

}  // namespace tollgate::oidc
