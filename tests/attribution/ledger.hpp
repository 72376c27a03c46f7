// What one run of the attribution suite saw, shared by the client threads and the peers' threads:
// the invariant violations, how often each marker and token reached a peer, and the behaviour each
// peer chose for each arrival (the schedule printed beside a violation).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tollgate::test::attribution {

struct Violation {
  int invariant = 0;  // 1 to 4, as in tests/attribution/README.md
  std::uint64_t marker = 0;
  std::string what;
  std::uint64_t other_marker = 0;  // the marker whose answer showed up instead, when known
  std::uint64_t other_token = 0;   // the token whose IdP answer carried what showed up, when known
};

class Ledger {
 public:
  void violate(Violation violation) {
    std::lock_guard lock(mutex_);
    violations_.push_back(std::move(violation));
  }
  // Records the arrival of `key` at a peer; returns its ordinal (1 for the first).
  std::uint32_t arrive(char peer, std::uint64_t key, std::string behaviour) {
    std::lock_guard lock(mutex_);
    auto& log = logs_[{peer, key}];
    log.push_back(std::move(behaviour));
    return static_cast<std::uint32_t>(log.size());
  }
  std::uint32_t arrivals(char peer, std::uint64_t key) const {
    std::lock_guard lock(mutex_);
    const auto it = logs_.find({peer, key});
    return it == logs_.end() ? 0 : static_cast<std::uint32_t>(it->second.size());
  }
  // "upstream arrival 1: 103+200 chunked ..." lines for `key`.
  std::string log_of(char peer, std::uint64_t key) const {
    std::lock_guard lock(mutex_);
    const auto it = logs_.find({peer, key});
    if (it == logs_.end()) return "";
    std::string out;
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      out += std::string("    ") + (peer == 'U' ? "upstream" : "IdP") + " arrival " +
             std::to_string(i + 1) + ": " + it->second[i] + "\n";
    }
    return out;
  }
  // The fake responses peers send carry "poison-<k>": which peer sent `poison`, for which key.
  void poison_sent(const std::string& poison, char peer, std::uint64_t key) {
    std::lock_guard lock(mutex_);
    poison_sources_.insert_or_assign(poison, std::pair{peer, key});
  }
  std::pair<char, std::uint64_t> poison_source(const std::string& poison) const {
    std::lock_guard lock(mutex_);
    const auto it = poison_sources_.find(poison);
    return it == poison_sources_.end() ? std::pair<char, std::uint64_t>{'-', 0} : it->second;
  }
  std::vector<Violation> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Violation> violations_;
  std::map<std::pair<char, std::uint64_t>, std::vector<std::string>> logs_;
  std::map<std::string, std::pair<char, std::uint64_t>> poison_sources_;
};

}  // namespace tollgate::test::attribution
