// Starts a real child process for integration tests and waits for the line it prints when ready.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace tollgate::test {

class Process {
 public:
  // Runs `argv` with stdout+stderr captured. `env` entries are added to the environment.
  explicit Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();  // SIGKILL if still running, then reaps
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits until a line of output (not yet consumed by an earlier wait) matches `pattern`; returns
  // the first capture group (or the whole match). Throws std::runtime_error with the output so far
  // when the process exits or `timeout` passes. Output is read continuously by a background thread,
  // so a chatty child never blocks on a full pipe.
  std::string wait_for_line(const std::string& pattern,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // All output captured so far.
  std::string output() const;
  // Number of lines captured so far that match `pattern`.
  int count_lines(const std::string& pattern) const;
  // Waits until at least `count` lines of all output match `pattern`, in any order with other
  // lines (for events from concurrent sources). Throws like wait_for_line.
  void wait_for_count(const std::string& pattern, int count,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

  void signal(int sig);
  // Waits for exit; returns the exit status (128+signal for a signal), or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  pid_t pid() const { return pid_; }
  bool running();

 private:
  void read_loop();
  int count_matching_lines(const std::regex& re) const;  // caller holds mutex_
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_status_ = -1;
  bool exited_ = false;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;  // guarded by mutex_
  bool eof_ = false;    // guarded by mutex_
  std::size_t scanned_ = 0;
  std::thread reader_;
};

// A temporary directory removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// Resident set size of a process in KiB (from /proc), and its open file descriptor count.
long rss_kib(pid_t pid);
int open_fds(pid_t pid);
// The TCP connections (not listeners) a process holds.
int open_connections(pid_t pid);

// For a state no process reports as an event (a count in /proc, a counter behind an admin API):
// checks `condition` every 10 ms until it holds (true) or `limit` passes (false).
bool poll_until(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace tollgate::test
