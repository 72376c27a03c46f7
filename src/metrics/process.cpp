#include "tollgate/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace tollgate::metrics {
namespace {

// The boot time, in seconds since the epoch: /proc/self/stat counts the start from it.
double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double seconds = 0;
      in >> seconds;
      return seconds;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

std::uint64_t count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // less the directory's own descriptor
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  // The command name, in parentheses, may hold spaces: the fields counted start after its ')'.
  if (const auto close = line.rfind(')'); close != std::string::npos) {
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
    // Fields 3 (state) onwards; utime is 14, stime 15, starttime 22, vsize 23, rss 24.
    for (int index = 3; fields >> field && index <= 24; ++index) {
      if (index == 14) utime = std::stod(field);
      if (index == 15) stime = std::stod(field);
      if (index == 22) start_ticks = std::stod(field);
      if (index == 23) vsize = std::stod(field);
      if (index == 24) rss_pages = std::stod(field);
    }
    stats.cpu_seconds = (utime + stime) / ticks;
    stats.start_time_seconds = boot_time_seconds() + start_ticks / ticks;
    stats.virtual_bytes = static_cast<std::uint64_t>(vsize);
    stats.resident_bytes = static_cast<std::uint64_t>(rss_pages * page);
  }
  stats.open_fds = count_open_fds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = limit.rlim_cur;
  return stats;
}

}  // namespace tollgate::metrics
