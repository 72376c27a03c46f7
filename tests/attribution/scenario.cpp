#include "scenario.hpp"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "process.hpp"

namespace tollgate::test::attribution {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kLanes = 6;                      // client connections at once
constexpr std::size_t kRoundConnections = 48;  // connections between two pauses of the clients
constexpr int kKeepalive = 4;                  // the gateway's idle upstream connections per worker
// The peers answer or close at once: the gateway's timeouts (3 s for the IdP, 5 s upstream) and
// this one only matter on a machine under load, and a client that waits longer saw a hang.
constexpr auto kClientTimeout = std::chrono::seconds(15);
constexpr auto kQuiesceLimit = std::chrono::seconds(10);
constexpr std::size_t kShownViolations = 12;  // TOLLGATE_ATTRIBUTION_SHOWN overrides it

std::size_t shown_violations() {
  const char* text = std::getenv("TOLLGATE_ATTRIBUTION_SHOWN");
  return text == nullptr || *text == '\0' ? kShownViolations : std::strtoull(text, nullptr, 0);
}

std::string gateway_config(int workers, std::uint16_t idp_port, std::uint16_t upstream_port) {
  const std::string introspection =
      "introspection_endpoint: http://127.0.0.1:" + std::to_string(idp_port) + "/introspect";
  const std::string identity =
      "      timeout: 3s\n"
      "      upstream_headers_claims: [ sub ]\n"
      "      upstream_headers_names: [ X-Authenticated-User ]\n";
  return "listen:\n"
         "  - address: 127.0.0.1:0\n"
         "admin:\n"
         "  address: 127.0.0.1:0\n"
         "workers: " +
         std::to_string(workers) +
         "\n"
         "log: { level: info, format: text, access_log: off }\n"
         "timeouts: { upstream_connect: 3s, upstream_read: 5s }\n"
         "upstreams:\n"
         "  scripted: { targets: [ http://127.0.0.1:" +
         std::to_string(upstream_port) + " ], keepalive: " + std::to_string(kKeepalive) +
         " }\n"
         "plugins:\n" +
         openid_connect_plugin("cached", introspection, identity + "      cache_ttl: 300s\n") +
         openid_connect_plugin("uncached", introspection,
                               identity + "      cache_introspection: false\n") +
         "routes:\n"
         "  - { name: cached, match: { paths: [ /cached ] }, upstream: scripted, "
         "plugins: [ cached ] }\n"
         "  - { name: uncached, match: { paths: [ /uncached ] }, upstream: scripted, "
         "plugins: [ uncached ] }\n"
         "  - { name: open, match: { paths: [ /open ] }, upstream: scripted }\n";
}

// The number after `prefix` at the start of `text` ("tok-12" → 12), or 0.
std::uint64_t number_after(std::string_view text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return 0;
  text.remove_prefix(prefix.size());
  std::uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || n > 1'000'000'000) return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// The value of form field `name` in an application/x-www-form-urlencoded body.
std::string_view form_field(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return {};
}

std::string whole_response(const std::string& fields, const std::string& body) {
  return "HTTP/1.1 200 OK\r\n" + fields + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// True when `body` is `unit` repeated (possibly cut short, as a close-delimited body may be).
bool made_of(std::string_view body, std::string_view unit) {
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != unit[i % unit.size()]) return false;
  }
  return true;
}

std::string excerpt(std::string_view text) {
  std::string out(text.substr(0, 100));
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

Scenario::Scenario(Settings settings)
    : settings_(settings),
      schedule_(client_schedule(settings.seed, settings.exchanges, settings.menu.http10,
                                settings.menu.head_protected)),
      idp_([this](const PeerRequest& request) { return answer_idp(request); }),
      upstream_([this](const PeerRequest& request) { return answer_upstream(request); }),
      gateway_(start_tollgate(gateway_config(settings.workers, idp_.port(), upstream_.port()))) {
  start_fds_ = open_fds(gateway_.process->pid());
}

PeerReply Scenario::answer_idp(const PeerRequest& request) {
  const std::uint64_t token = number_after(form_field(request.body, "token"), "tok-");
  const std::uint32_t arrival = ledger_.arrivals('I', token) + 1;
  const ResponsePlan plan = idp_plan(settings_.seed, settings_.menu, token, arrival);
  ledger_.arrive('I', token, describe(plan));
  const bool active = token != 0 && token_active(settings_.seed, token);
  // Padding varies the answer's size: JSON allows whitespace after the value.
  const std::string answer =
      (active ? "{\"active\":true,\"sub\":\"user-" + std::to_string(token) +
                    "\",\"client_id\":\"attribution\",\"token_type\":\"access_token\"}"
              : std::string("{\"active\":false}")) +
      std::string(plan.body_repeats - 1, ' ');
  const std::string fields = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
  const std::string poison_user = plan.poison_names_neighbour
                                      ? "user-" + std::to_string(token + 1)
                                      : "poison-" + std::to_string(plan.poison);
  const std::string fake = whole_response("Content-Type: application/json\r\n",
                                          "{\"active\":true,\"sub\":\"" + poison_user + "\"}");
  if (plan.trailing != Trailing::none) ledger_.poison_sent(poison_user, 'I', token);
  return render(plan, fields, answer, false, fake);
}

PeerReply Scenario::answer_upstream(const PeerRequest& request) {
  const std::uint64_t marker = number_after(request.marker, "");
  const std::uint32_t arrival = ledger_.arrivals('U', marker) + 1;
  const ResponsePlan plan = upstream_plan(settings_.seed, settings_.menu, marker, arrival);
  ledger_.arrive('U', marker, describe(plan));
  check_upstream_request(request, marker, arrival);

  const std::string unit = "marker=" + std::to_string(marker) + ";";
  std::string body;
  body.reserve(unit.size() * plan.body_repeats);
  for (std::uint32_t i = 0; i < plan.body_repeats; ++i) body += unit;
  const std::string fields =
      "X-Marker: " + std::to_string(marker) + "\r\nContent-Type: text/plain\r\n";
  const std::string poison = poison_marker(plan, marker);
  if (plan.trailing != Trailing::none) ledger_.poison_sent(poison, 'U', marker);
  const std::string fake = whole_response(
      "X-Marker: " + poison + "\r\nContent-Type: text/plain\r\n", "marker=" + poison + ";");
  return render(plan, fields, body, request.method == "HEAD", fake);
}

// The token whose IdP answer named `user`: user-<t> is t's own, poison-<k> came after t's answer.
std::uint64_t Scenario::idp_source(std::string_view user) const {
  if (const std::uint64_t token = number_after(user, "user-"); token != 0) return token;
  const auto [peer, token] = ledger_.poison_source(std::string(user));
  return peer == 'I' ? token : 0;
}

// Invariants 2 and 3, where they can be seen: at the upstream.
void Scenario::check_upstream_request(const PeerRequest& request, std::uint64_t marker,
                                      std::uint32_t arrival) {
  if (marker == 0 || marker > schedule_.by_marker.size()) {
    ledger_.violate({1, 0,
                     "the upstream got a request with no known marker: " + request.method + " " +
                         request.target});
    return;
  }
  const ClientRequest& expected = schedule_.by_marker[marker - 1];
  const std::string target =
      std::string(route_path(expected.route)) + "/m/" + std::to_string(marker);
  if (request.target != target || request.method != method_name(expected.method)) {
    ledger_.violate({1, marker,
                     "the upstream got " + request.method + " " + request.target +
                         " with X-Marker " + std::to_string(marker)});
  }
  const std::string body = expected.has_body ? "body-" + std::to_string(marker) : "";
  if (request.body != body) {
    ledger_.violate({1, marker,
                     "the upstream got request " + std::to_string(marker) + " with the body \"" +
                         excerpt(request.body) + "\""});
  }
  const auto user = request.headers["X-Authenticated-User"];
  if (is_protected(expected.route)) {
    const std::string own_user = "user-" + std::to_string(expected.token);
    if (!token_active(settings_.seed, expected.token)) {
      ledger_.violate({2, marker,
                       "tok-" + std::to_string(expected.token) +
                           ", inactive at the IdP, reached the upstream as \"" + std::string(user) +
                           "\"",
                       0, idp_source(user)});
    } else if (user != own_user) {
      ledger_.violate({2, marker,
                       "request " + std::to_string(marker) + " with tok-" +
                           std::to_string(expected.token) + " reached the upstream as \"" +
                           std::string(user) + "\"",
                       0, idp_source(user)});
    }
  } else if (!user.empty()) {
    ledger_.violate(
        {2, marker,
         "a request on the open route reached the upstream as \"" + std::string(user) + "\""});
  }
  if (side_effecting(expected.method) && arrival > 1) {
    ledger_.violate({3, marker,
                     std::string(method_name(expected.method)) + " " + std::to_string(marker) +
                         " reached the upstream " + std::to_string(arrival) + " times"});
  }
}

// Invariant 1 (and the refusal half of 2), where they can be seen: at the client.
void Scenario::check_seen(const ConnectionPlan& connection, const ClientRequest& request,
                          const Seen& seen) {
  const std::uint64_t marker = request.marker;
  const bool inactive = is_protected(request.route) && !token_active(settings_.seed, request.token);
  switch (seen.kind) {
    case Seen::Kind::closed:
      ++tally_.closed;
      return;
    case Seen::Kind::timed_out:
      ledger_.violate({1, marker, "no answer within the client's timeout"});
      return;
    case Seen::Kind::garbled:
      // The bytes are most likely left over from the previous answer on the connection.
      ledger_.violate({1, marker,
                       "unreadable bytes where its response belongs: " + excerpt(seen.detail),
                       request.marker == connection.requests.front().marker ? 0 : marker - 1});
      return;
    case Seen::Kind::response:
      break;
  }
  if (connection.version == 10 && (seen.interim || seen.chunked)) {
    ledger_.violate({1, marker,
                     std::string("an HTTP/1.0 client got ") +
                         (seen.interim ? "an interim 1xx" : "a chunked body")});
  }
  if (!seen.marker.empty()) {
    const std::string own = std::to_string(marker);
    if (seen.marker != own) {
      // A fake response names a poison marker or a neighbour's: the ledger knows which it was.
      const auto [peer, source] = ledger_.poison_source(seen.marker);
      if (peer == 'U') {
        ledger_.violate({1, marker,
                         "client " + own + " got a response marked " + seen.marker +
                             ": the fake one the upstream sent after answering " +
                             std::to_string(source),
                         source});
      } else {
        ledger_.violate({1, marker, "client " + own + " got the response for " + seen.marker,
                         number_after(seen.marker, "")});
      }
    } else if (!made_of(seen.body, "marker=" + own + ";")) {
      ledger_.violate(
          {1, marker,
           "client " + own + " got its marker with the body \"" + excerpt(seen.body) + "\""});
    } else if (inactive) {
      ledger_.violate({2, marker,
                       "tok-" + std::to_string(request.token) +
                           ", inactive at the IdP, was served (status " +
                           std::to_string(seen.status) + ")"});
    } else {
      ++tally_.own;
    }
    return;
  }
  const bool gateway_answer =
      seen.status >= 400 &&
      (request.method == Method::head || seen.body.find("\"request_id\"") != std::string::npos);
  if (!gateway_answer) {
    ledger_.violate({1, marker,
                     "status " + std::to_string(seen.status) +
                         " with no marker, not an answer of the gateway: \"" + excerpt(seen.body) +
                         "\""});
  } else if (seen.status == 401 && is_protected(request.route) && !inactive) {
    ledger_.violate(
        {2, marker,
         "tok-" + std::to_string(request.token) + ", active at the IdP, was refused with 401"});
  } else if (seen.status == 401 && inactive) {
    ++tally_.refused;
  } else {
    ++tally_.gateway_error;
  }
}

void Scenario::play_connection(const ConnectionPlan& connection) {
  std::vector<Seen> seen;
  try {
    seen = play(gateway_.port(), connection, kClientTimeout);
  } catch (const std::exception& e) {
    ledger_.violate({4, connection.requests.front().marker,
                     std::string("the gateway did not accept a connection: ") + e.what()});
    return;
  }
  for (std::size_t r = 0; r < seen.size(); ++r)
    check_seen(connection, connection.requests[r], seen[r]);
}

// The lanes play the connections in rounds; between rounds every lane waits, nothing is in flight,
// and the peers send their late bytes.
void Scenario::run() {
  const auto start = Clock::now();
  const std::size_t total = schedule_.connections.size();
  const std::size_t rounds = (total + kRoundConnections - 1) / kRoundConnections;
  std::vector<std::atomic<std::size_t>> taken(rounds);
  auto between_rounds = [this]() noexcept {
    if (!idp_.flush_late() || !upstream_.flush_late()) {
      ledger_.violate({4, 0, "a peer could not deliver its late bytes within 5 s"});
    }
  };
  std::barrier pause(kLanes, between_rounds);
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes.emplace_back([&] {
      for (std::size_t round = 0; round < rounds; ++round) {
        const std::size_t first = round * kRoundConnections;
        const std::size_t end = std::min(total, first + kRoundConnections);
        for (std::size_t i = first + taken[round]++; i < end; i = first + taken[round]++) {
          play_connection(schedule_.connections[i]);
        }
        pause.arrive_and_wait();
      }
    });
  }
  for (auto& lane : lanes) lane.join();
  seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  check_resources();
}

// Invariant 4: once the clients are gone, the gateway holds no more than its pools allow, and
// still answers.
void Scenario::check_resources() {
  const int upstream_bound = kKeepalive * settings_.workers;
  const int idp_bound = kLanes * 2 * settings_.workers;  // two plugins, each its own pool
  if (!poll_until([&] { return upstream_.open_connections() <= upstream_bound; }, kQuiesceLimit)) {
    ledger_.violate({4, 0,
                     std::to_string(upstream_.open_connections()) +
                         " connections to the upstream stay open (bound " +
                         std::to_string(upstream_bound) + ")"});
  }
  if (!poll_until([&] { return idp_.open_connections() <= idp_bound; }, kQuiesceLimit)) {
    ledger_.violate({4, 0,
                     std::to_string(idp_.open_connections()) +
                         " connections to the IdP stay open (bound " + std::to_string(idp_bound) +
                         ")"});
  }
  const int fd_bound = start_fds_ + upstream_bound + idp_bound + 2;
  const pid_t pid = gateway_.process->pid();
  if (!poll_until([&] { return open_fds(pid) <= fd_bound; }, kQuiesceLimit)) {
    ledger_.violate({4, 0,
                     "the gateway holds " + std::to_string(open_fds(pid)) + " descriptors, " +
                         std::to_string(start_fds_) + " at the start (bound " +
                         std::to_string(fd_bound) + ")"});
  }
  try {
    const int status = http_get(gateway_.admin_port, "/healthz").result_int();
    if (status != 200) {
      ledger_.violate({4, 0, "/healthz answers " + std::to_string(status) + " after the run"});
    }
  } catch (const std::exception& e) {
    ledger_.violate({4, 0, std::string("/healthz does not answer after the run: ") + e.what()});
  }
}

std::string Scenario::schedule_of(std::uint64_t marker) const {
  if (marker == 0 || marker > schedule_.by_marker.size()) return "";
  const ClientRequest& request = schedule_.by_marker[marker - 1];
  const ConnectionPlan& connection = schedule_.connections[schedule_.connection_of[marker - 1]];
  std::string out = "    client " + std::to_string(marker) + ": " + describe(connection, request) +
                    "\n" + ledger_.log_of('U', marker);
  if (is_protected(request.route)) {
    out += "    tok-" + std::to_string(request.token) + " is " +
           (token_active(settings_.seed, request.token) ? "active" : "inactive") + "\n" +
           ledger_.log_of('I', request.token);
  }
  return out;
}

std::string Scenario::report(const std::string& reproduce) const {
  const std::vector<Violation> violations = ledger_.violations();
  if (violations.empty()) return "";
  int per_invariant[5] = {};
  for (const Violation& v : violations) ++per_invariant[std::clamp(v.invariant, 0, 4)];
  std::string out = "attribution: seed " + std::to_string(settings_.seed) + ", " +
                    std::to_string(settings_.exchanges) + " exchanges, workers " +
                    std::to_string(settings_.workers) + ", " + settings_.menu.name() + ": " +
                    std::to_string(violations.size()) + " violations (";
  for (int i = 1; i <= 4; ++i) {
    out += "invariant " + std::to_string(i) + ": " + std::to_string(per_invariant[i]) +
           (i < 4 ? ", " : ")\n");
  }
  out += "reproduce: " + reproduce + "\n";
  // The first few of each invariant, so one kind does not hide the others.
  std::size_t shown = 0;
  const std::size_t limit = shown_violations();
  for (int invariant = 1; invariant <= 4; ++invariant) {
    std::size_t of_this = 0;
    for (const Violation& v : violations) {
      if (v.invariant != invariant || of_this == limit / 4 + 1 || shown == limit) {
        continue;
      }
      ++of_this;
      ++shown;
      out += "  [invariant " + std::to_string(invariant) + "] " + v.what + "\n" +
             schedule_of(v.marker);
      if (v.other_marker != 0 && v.other_marker != v.marker) {
        out += "   related exchange:\n" + schedule_of(v.other_marker);
      }
      if (v.other_token != 0) {
        out += "   what it carried came from the IdP's answers to tok-" +
               std::to_string(v.other_token) + ":\n" + ledger_.log_of('I', v.other_token);
      }
    }
  }
  return out;
}

}  // namespace tollgate::test::attribution
