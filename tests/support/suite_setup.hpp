// A test suite's shared setup (processes started once for all its tests). GoogleTest reports the
// tests of a suite whose SetUpTestSuite threw as skipped, and ctest counts a skip as a pass; here
// the error is kept instead, and every test of the suite fails with it.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace tollgate::test {

class SuiteSetup {
 public:
  // In SetUpTestSuite.
  void run(const std::function<void()>& setup) {
    error_.clear();
    try {
      setup();
    } catch (const std::exception& e) {
      error_ = e.what();
      if (error_.empty()) error_ = "the suite's setup failed";
    }
  }
  // In SetUp: ASSERT_TRUE(setup_.ok()) << setup_.error();
  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }

 private:
  std::string error_;
};

// A fixture whose `Environment` (the processes its tests talk to) is built once for the suite and
// shared by its tests: class MyTest : public SharedEnvironmentTest<MyEnvironment> {};
template <class Environment>
class SharedEnvironmentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_.run([] { env_ = std::make_unique<Environment>(); });
  }
  static void TearDownTestSuite() { env_.reset(); }
  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_.error(); }

  static inline SuiteSetup setup_;
  static inline std::unique_ptr<Environment> env_;
};

}  // namespace tollgate::test
