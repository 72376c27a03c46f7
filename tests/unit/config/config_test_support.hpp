// Helpers shared by the config tests: build a Reader over YAML text and capture the error a call
// throws, so each test can assert the exact position, key path and message.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

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
