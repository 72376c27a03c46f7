// Helpers shared by the config tests: build a Reader over YAML text and capture the error a call
// throws, so each test can assert the exact position, key path and message.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "tollgate/config/config.hpp"
#include "tollgate/config/reader.hpp"

namespace tollgate::config::test {

inline Reader read_yaml(const std::string& text, const std::string& file = "test.yaml") {
  return Reader(YAML::Load(text), "", std::make_shared<const std::string>(file));
}

// Runs `action` and returns the ConfigError it throws; fails the test when it throws nothing.
template <typename Action>
ConfigError error_of(Action&& action) {
  try {
    std::forward<Action>(action)();
  } catch (const ConfigException& e) {
    return e.error();
  }
  ADD_FAILURE() << "expected a ConfigException";
  return {};
}

// Loads `text` as "gw.yaml" and returns the error; fails the test when it loads.
inline ConfigError load_error(const std::string& text) {
  auto result = load_config_text(text, "gw.yaml");
  if (result) {
    ADD_FAILURE() << "expected the config to be rejected";
    return {};
  }
  return result.error();
}

// Loads `text` as "gw.yaml"; fails the test (and returns nullptr) when it is rejected.
inline std::shared_ptr<const GatewayConfig> load_ok(const std::string& text) {
  auto result = load_config_text(text, "gw.yaml");
  if (!result) {
    ADD_FAILURE() << result.error().to_string();
    return nullptr;
  }
  return *result;
}

// Sets an environment variable for the lifetime of the object, then removes it.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

}  // namespace tollgate::config::test
