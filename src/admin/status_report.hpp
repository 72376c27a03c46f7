// GET /status.json: the status page's data, in one document (README, "The status page"). Counts
// are totals since the process started; rates and quantiles are worked out here.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "tollgate/metrics/exposition.hpp"

namespace tollgate::admin {

class StatusReport {
 public:
  // Used from the admin listener's thread only.
  std::string render(const metrics::View& view, std::string_view config_path,
                     std::string_view version);

 private:
  // Route totals seen by earlier renders: requests_per_second is over the span from the newest
  // sample at least kRateWindow old (or the oldest) to now.
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::map<std::string, std::uint64_t, std::less<>> totals;
  };
  std::deque<Sample> samples_;
};

}  // namespace tollgate::admin
