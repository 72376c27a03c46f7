// The process's own figures, as the Prometheus client libraries report them (process_*), read
// from /proc when scraped.
#pragma once

#include <cstdint>

namespace tollgate::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;      // the soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // since the Unix epoch
};

ProcessStats read_process_stats();

}  // namespace tollgate::metrics
