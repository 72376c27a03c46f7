// Failures the IdP can be told to show on introspection calls, so tests and demos can watch a
// gateway fail closed: slowness, error statuses, garbage, broken framing, silence.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

namespace tollgate::dev_idp {

struct Faults {
  std::chrono::milliseconds latency{0};  // added before anything else happens
  // What the answer contains. `status` and `body` may be combined (e.g. a 502 HTML page).
  std::optional<unsigned> status;          // that status with a JSON error body
  std::optional<std::string> retry_after;  // Retry-After header of a `status` answer
  std::optional<std::string> body;         // this text as text/html (status 200 unless `status`)
  bool active_string = false;              // {"active":"true"}
  bool omit_active = false;                // the real answer without its "active" member
  // How the answer is delivered (at most one).
  bool close = false;      // close the connection without answering
  bool truncate = false;   // Content-Length larger than the body, then close
  bool blackhole = false;  // never answer; keep the connection until the client leaves

  // Parses the admin API's JSON; the string says what is wrong when it is not a valid set.
  static std::variant<Faults, std::string> from_json(const nlohmann::json& json);
  nlohmann::ordered_json to_json() const;
};

// The faults in force, swapped whole by the admin API and read on every introspection call.
class FaultSwitch {
 public:
  void set(Faults faults);
  void clear();
  // nullptr when no fault is set. That common case costs one atomic load and takes no lock; the
  // lock is only taken while faults are set, when speed is not the point.
  std::shared_ptr<const Faults> current() const;

 private:
  std::atomic<bool> armed_{false};
  mutable std::mutex mutex_;
  std::shared_ptr<const Faults> faults_;
};

}  // namespace tollgate::dev_idp
