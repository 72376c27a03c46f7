// A test suite's shared setup (processes started once for all its tests). GoogleTest reports the
// tests of a suite whose SetUpTestSuite threw as skipped, and ctest counts a skip as a pass; here
// the error is kept instead, and every test of the suite fails with it.
#pragma once

#include <exception>
#include <functional>
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

}  // namespace tollgate::test
