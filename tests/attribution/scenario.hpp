// One run of the attribution suite: a scripted IdP, a scripted upstream and tollgate between them
// and the clients; the client schedule played by several concurrent connections; every answer
// checked against the request it belongs to (tests/attribution/README.md lists the invariants).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ledger.hpp"
#include "schedule.hpp"
#include "scripted_peer.hpp"
#include "services.hpp"
#include "traffic.hpp"

namespace tollgate::test::attribution {

struct Settings {
  std::uint64_t seed = 1;
  std::size_t exchanges = 1000;
  Menu menu = Menu::adversarial();
  int workers = 2;
};

struct Tally {
  std::atomic<int> own{0};            // the client's own marker came back
  std::atomic<int> refused{0};        // 401 for a token the IdP calls inactive, as it should be
  std::atomic<int> gateway_error{0};  // an answer tollgate made itself (502, 503, ...)
  std::atomic<int> closed{0};         // the connection ended before a response
};

class Scenario {
 public:
  explicit Scenario(Settings settings);
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  // Plays the whole client schedule; then checks that the gateway's resources came back.
  void run();

  const Tally& tally() const { return tally_; }
  const Ledger& ledger() const { return ledger_; }
  double seconds() const { return seconds_; }
  // Every violation with its schedule, the seed and a command that repeats the run; empty when
  // the run kept every invariant.
  std::string report(const std::string& reproduce) const;

 private:
  PeerReply answer_upstream(const PeerRequest& request);
  PeerReply answer_idp(const PeerRequest& request);
  void check_upstream_request(const PeerRequest& request, std::uint64_t marker,
                              std::uint32_t arrival);
  void check_seen(const ConnectionPlan& connection, const ClientRequest& request, const Seen& seen);
  void play_connection(const ConnectionPlan& connection);
  void check_resources();
  std::string schedule_of(std::uint64_t marker) const;
  std::uint64_t idp_source(std::string_view user) const;

  Settings settings_;
  ClientSchedule schedule_;
  Ledger ledger_;
  Tally tally_;
  double seconds_ = 0;
  int start_fds_ = 0;
  ScriptedPeer idp_;
  ScriptedPeer upstream_;
  Tollgate gateway_;  // last: stopped before the peers go
};

}  // namespace tollgate::test::attribution
