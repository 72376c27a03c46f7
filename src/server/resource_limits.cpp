#include "resource_limits.hpp"

#include <sys/resource.h>

#include <fstream>

namespace tollgate::server {
namespace {

// An unlimited hard limit still stops at the kernel's per-process ceiling (fs.nr_open), and
// setrlimit refuses anything above it.
rlim_t ceiling(rlim_t hard) {
  if (hard != RLIM_INFINITY) return hard;
  std::ifstream nr_open("/proc/sys/fs/nr_open");
  rlim_t value = 0;
  if (nr_open >> value && value > 0) return value;
  return 1 << 20;  // the kernel's default nr_open
}

}  // namespace

OpenFileLimit raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {0, 0, true};
  OpenFileLimit result{limit.rlim_cur, limit.rlim_cur, false};
  const rlim_t target = ceiling(limit.rlim_max);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      result.after = target;
    } else {
      result.failed = true;
    }
  }
  return result;
}

}  // namespace tollgate::server
