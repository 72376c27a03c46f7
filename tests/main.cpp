// The test programs' main. A failure outside any test (a suite's SetUpTestSuite or
// TearDownTestSuite, a global environment) ends the program at once with status 1: GoogleTest would
// otherwise go on to print its suite's tests as "[  SKIPPED ]", which CTest reads as skipped, not
// failed, and a suite that could not start its peers would leave the run green.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace {

class FailOutsideTests : public testing::EmptyTestEventListener {
  // Tracked here: asking GoogleTest for the current test from this callback would deadlock.
  void OnTestStart(const testing::TestInfo&) override { in_test_ = true; }
  void OnTestEnd(const testing::TestInfo&) override { in_test_ = false; }
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed() || in_test_) return;
    std::fprintf(stderr, "a failure outside any test (suite set-up or tear-down): stopping\n");
    std::fflush(nullptr);
    std::_Exit(1);
  }
  bool in_test_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleMock(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new FailOutsideTests);
  return RUN_ALL_TESTS();
}
