// The attribution invariant: whatever the IdP, the upstream or the client sends, every answer
// reaches only the request it belongs to. Seeded schedules of scripted misbehaviour, thousands of
// exchanges per run; a failure prints the seed, the schedule of each failing exchange and the
// command that repeats the run.
#include <gtest/gtest.h>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace tollgate::test::attribution {
namespace {

// The seeds CI runs, so that CI is reproducible; TOLLGATE_ATTRIBUTION_SEED runs one other seed.
const std::vector<std::uint64_t> kOneWorkerSeeds = {1, 2};
const std::vector<std::uint64_t> kTwoWorkerSeeds = {3, 4};
constexpr std::size_t kDefaultExchanges = 2500;  // per seed
constexpr std::size_t kWellBehavedExchanges = 1000;

std::vector<std::uint64_t> seeds(const std::vector<std::uint64_t>& defaults) {
  const char* text = std::getenv("TOLLGATE_ATTRIBUTION_SEED");
  if (text == nullptr || *text == '\0') return defaults;
  return {std::strtoull(text, nullptr, 0)};
}

std::size_t exchanges(std::size_t fallback) {
  const char* text = std::getenv("TOLLGATE_ATTRIBUTION_EXCHANGES");
  if (text == nullptr || *text == '\0') return fallback;
  return static_cast<std::size_t>(std::strtoull(text, nullptr, 0));
}

// The adversarial tests' menu: everything, or the one item TOLLGATE_ATTRIBUTION_ONLY names.
Menu adversarial_menu() {
  const char* text = std::getenv("TOLLGATE_ATTRIBUTION_ONLY");
  if (text == nullptr || *text == '\0') return Menu::adversarial();
  const std::optional<Menu> menu = Menu::only(text);
  if (!menu) throw std::invalid_argument(std::string("TOLLGATE_ATTRIBUTION_ONLY: no item ") + text);
  return *menu;
}

std::string reproduce(const Settings& settings) {
  char exe[PATH_MAX] = {};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* only = std::getenv("TOLLGATE_ATTRIBUTION_ONLY");
  return (only != nullptr && *only != '\0' ? "TOLLGATE_ATTRIBUTION_ONLY=" + std::string(only) + " "
                                           : std::string()) +
         "TOLLGATE_ATTRIBUTION_SEED=" + std::to_string(settings.seed) +
         " TOLLGATE_ATTRIBUTION_EXCHANGES=" + std::to_string(settings.exchanges) + " " +
         (n > 0 ? std::string(exe) : std::string("attribution_tests")) +
         " --gtest_filter=" + test->test_suite_name() + "." + test->name();
}

// Runs each seed and checks what it saw.
void run_seeds(const Menu& menu, int workers, const std::vector<std::uint64_t>& seed_list,
               std::size_t count, double min_own_share) {
  for (std::uint64_t seed : seed_list) {
    const Settings settings{seed, count, menu, workers};
    Scenario scenario(settings);
    scenario.run();
    const Tally& tally = scenario.tally();
    std::printf(
        "%s, seed %llu, workers %d: %zu exchanges in %.1f s (%.0f/s): %d own marker, %d "
        "refused as inactive, %d gateway errors, %d closed\n",
        menu.name().c_str(), static_cast<unsigned long long>(seed), workers, count,
        scenario.seconds(), static_cast<double>(count) / scenario.seconds(), tally.own.load(),
        tally.refused.load(), tally.gateway_error.load(), tally.closed.load());
    const std::string report = scenario.report(reproduce(settings));
    EXPECT_TRUE(report.empty()) << report;
    // A gateway that refused everything would keep the invariants: most exchanges must get through
    // for the run to say anything.
    EXPECT_GE(tally.own.load() + tally.refused.load(), static_cast<int>(count * min_own_share))
        << "too few exchanges were served: seed " << seed;
  }
}

// The self-check: peers that behave, in every framing and keep-alive combination; passes today.
TEST(Attribution, WellBehavedPeersEveryAnswerReachesItsRequest) {
  run_seeds(Menu::well_behaved(), 2, seeds({1}), exchanges(kWellBehavedExchanges), 0.95);
}

TEST(Attribution, AdversarialPeersOneWorker) {
  run_seeds(adversarial_menu(), 1, seeds(kOneWorkerSeeds), exchanges(kDefaultExchanges), 0.25);
}

TEST(Attribution, AdversarialPeersTwoWorkers) {
  run_seeds(adversarial_menu(), 2, seeds(kTwoWorkerSeeds), exchanges(kDefaultExchanges), 0.25);
}

}  // namespace
}  // namespace tollgate::test::attribution
