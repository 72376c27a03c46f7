#include "faults.hpp"

namespace tollgate::dev_idp {
namespace {

constexpr std::int64_t kMaxLatencyMs = 10 * 60 * 1000;

}  // namespace

std::variant<Faults, std::string> Faults::from_json(const nlohmann::json& json) {
  if (!json.is_object()) return std::string("faults must be a JSON object");
  Faults faults;
  for (const auto& [key, value] : json.items()) {
    if (key == "latency_ms") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
          value.get<std::int64_t>() > kMaxLatencyMs) {
        return std::string("latency_ms must be an integer from 0 to 600000");
      }
      faults.latency = std::chrono::milliseconds(value.get<std::int64_t>());
    } else if (key == "status") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 200 ||
          value.get<std::int64_t>() > 599) {
        return std::string("status must be an integer from 200 to 599");
      }
      faults.status = value.get<unsigned>();
    } else if (key == "retry_after") {
      if (value.is_string()) {
        faults.retry_after = value.get<std::string>();
      } else if (value.is_number_unsigned()) {
        faults.retry_after = std::to_string(value.get<std::uint64_t>());
      } else {
        return std::string("retry_after must be a string or a non-negative integer");
      }
      if (faults.retry_after->find_first_of("\r\n") != std::string::npos) {
        return std::string("retry_after must not contain line breaks");
      }
    } else if (key == "body") {
      if (!value.is_string()) return std::string("body must be a string");
      faults.body = value.get<std::string>();
    } else if (key == "active_string" || key == "omit_active" || key == "close" ||
               key == "truncate" || key == "blackhole") {
      if (!value.is_boolean()) return key + " must be a boolean";
      const bool on = value.get<bool>();
      if (key == "active_string") faults.active_string = on;
      if (key == "omit_active") faults.omit_active = on;
      if (key == "close") faults.close = on;
      if (key == "truncate") faults.truncate = on;
      if (key == "blackhole") faults.blackhole = on;
    } else {
      return "unknown fault '" + key + "'";
    }
  }
  if (faults.close + faults.truncate + faults.blackhole > 1) {
    return std::string("close, truncate and blackhole exclude each other");
  }
  const bool custom_answer = faults.status.has_value() || faults.body.has_value();
  if (custom_answer + faults.active_string + faults.omit_active > 1) {
    return std::string("status/body, active_string and omit_active exclude each other");
  }
  if ((faults.close || faults.blackhole) &&
      (custom_answer || faults.active_string || faults.omit_active)) {
    return std::string("close and blackhole send no answer, so they take no answer fault");
  }
  if (faults.retry_after && !faults.status) {
    return std::string("retry_after needs a status");
  }
  return faults;
}

nlohmann::ordered_json Faults::to_json() const {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  if (latency.count() > 0) json["latency_ms"] = latency.count();
  if (status) json["status"] = *status;
  if (retry_after) json["retry_after"] = *retry_after;
  if (body) json["body"] = *body;
  if (active_string) json["active_string"] = true;
  if (omit_active) json["omit_active"] = true;
  if (close) json["close"] = true;
  if (truncate) json["truncate"] = true;
  if (blackhole) json["blackhole"] = true;
  return json;
}

void FaultSwitch::set(Faults faults) {
  auto shared = std::make_shared<const Faults>(std::move(faults));
  std::lock_guard lock(mutex_);
  faults_ = std::move(shared);
  armed_.store(true, std::memory_order_release);
}

void FaultSwitch::clear() {
  std::lock_guard lock(mutex_);
  faults_.reset();
  armed_.store(false, std::memory_order_release);
}

std::shared_ptr<const Faults> FaultSwitch::current() const {
  if (!armed_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(mutex_);
  return faults_;
}

}  // namespace tollgate::dev_idp
