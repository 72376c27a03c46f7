#include "tollgate/oidc/claims.hpp"

#include <algorithm>
#include <cmath>

namespace tollgate::oidc {
namespace {

using json = nlohmann::json;

const json* find_step(const json& object, std::string_view step) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(step); it != object.end()) return &*it;
  if (step.find('.') == std::string_view::npos) return nullptr;

  const json* node = &object;
  while (node != nullptr) {
    const std::size_t dot = step.find('.');
    const std::string_view key = step.substr(0, dot);
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string_view::npos) break;
    step.remove_prefix(dot + 1);
  }
  return node;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

bool safe_header_text(std::string_view text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return is_control(static_cast<unsigned char>(c)); });
}

void append_scalar(std::string& out, const json& value) {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
  } else {
    out += value.dump();
  }
}

}  // namespace

const json* find_claim(const json& claims, const std::vector<std::string>& path) {
  const json* node = &claims;
  for (const std::string& step : path) {
    node = find_step(*node, step);
    if (node == nullptr) return nullptr;
  }
  return path.empty() ? nullptr : node;
}

NumericDate numeric_date(const json& claims, const char* name) {
  if (!claims.is_object()) return {};
  auto it = claims.find(name);
  if (it == claims.end()) return {};
  if (!it->is_number()) return {NumericDate::State::malformed, 0};
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds)) return {NumericDate::State::malformed, 0};
  return {NumericDate::State::valid, seconds};
}

double seconds_since_epoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

std::chrono::milliseconds clamped_milliseconds(double seconds) {
  constexpr double kLimit = 100.0 * 365 * 24 * 3600;
  const double clamped = std::clamp(seconds, -kLimit, kLimit);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(clamped * 1000.0)));
}

std::vector<std::string_view> claim_words(const json* claim) {
  std::vector<std::string_view> words;
  if (claim == nullptr) return words;
  auto add_split = [&words](std::string_view text) {
    while (!text.empty()) {
      const std::size_t space = text.find(' ');
      if (space != 0) words.push_back(text.substr(0, space));
      if (space == std::string_view::npos) break;
      text.remove_prefix(space + 1);
    }
  };
  if (claim->is_string()) {
    add_split(claim->get_ref<const std::string&>());
  } else if (claim->is_array()) {
    for (const json& element : *claim) {
      if (element.is_string()) words.push_back(element.get_ref<const std::string&>());
    }
  }
  return words;
}

std::optional<std::string> claim_header_value(const json& claim) {
  std::string out;
  if (claim.is_null()) return std::nullopt;
  if (claim.is_array()) {
    for (const json& element : claim) {
      if (element.is_null()) continue;
      if (!out.empty()) out += ' ';
      append_scalar(out, element);
    }
  } else {
    append_scalar(out, claim);  // objects dump as compact JSON
  }
  if (!safe_header_text(out)) return std::nullopt;
  return out;
}

}  // namespace tollgate::oidc
