// Process resource limits the daemon adjusts for itself at start.
#pragma once

#include <cstdint>

namespace tollgate::server {

struct OpenFileLimit {
  std::uint64_t before = 0;  // the soft limit found at start
  std::uint64_t after = 0;   // the soft limit now
  bool failed = false;       // the raise was refused (the soft limit is unchanged)
};

// Raises the soft limit on open files to the hard limit, as nginx does with worker_rlimit_nofile:
// every client, upstream and IdP connection is a descriptor, and the usual default soft limit of
// 1024 would cap the gateway at about a thousand clients while the hard limit allows far more.
OpenFileLimit raise_open_file_limit();

}  // namespace tollgate::server
