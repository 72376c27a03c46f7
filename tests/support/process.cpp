#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace tollgate::test {

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  reader_ = std::thread([this] { read_loop(); });
}

Process::~Process() {
  if (running()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();  // the pipe reaches EOF once the child is gone
  if (out_fd_ >= 0) close(out_fd_);
}

void Process::read_loop() {
  char buf[8192];
  for (;;) {
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      eof_ = true;
      changed_.notify_all();
      return;
    }
    output_.append(buf, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
}

std::string Process::wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    std::size_t eol;
    while ((eol = output_.find('\n', scanned_)) != std::string::npos) {
      std::string line = output_.substr(scanned_, eol - scanned_);
      scanned_ = eol + 1;
      std::smatch m;
      if (std::regex_search(line, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
    }
    if (eof_)
      throw std::runtime_error("process exited before /" + pattern + "/; output:\n" + output_);
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
        output_.find('\n', scanned_) == std::string::npos) {
      throw std::runtime_error("timed out waiting for /" + pattern + "/; output:\n" + output_);
    }
  }
}

std::string Process::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

int Process::count_lines(const std::string& pattern) const {
  const std::regex re(pattern);
  std::lock_guard lock(mutex_);
  return count_matching_lines(re);
}

int Process::count_matching_lines(const std::regex& re) const {
  int count = 0;
  std::size_t start = 0, eol;
  while ((eol = output_.find('\n', start)) != std::string::npos) {
    if (std::regex_search(output_.begin() + static_cast<long>(start),
                          output_.begin() + static_cast<long>(eol), re)) {
      ++count;
    }
    start = eol + 1;
  }
  return count;
}

void Process::wait_for_count(const std::string& pattern, int count,
                             std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  // Count and wait under one lock, so output appended between the two cannot be missed.
  const bool done = changed_.wait_until(lock, deadline,
                                        [&] { return count_matching_lines(re) >= count || eof_; });
  if (count_matching_lines(re) >= count) return;
  throw std::runtime_error(
      std::string(done ? "process exited before /" : "timed out waiting for /") + pattern +
      "/; output:\n" + output_);
}

void Process::signal(int sig) {
  if (!exited_) kill(pid_, sig);
}

bool Process::running() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Process::wait_exit(std::chrono::milliseconds timeout) {
  // The reader thread sees EOF when the child exits (its end of the pipe closes); then reap it.
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [this] { return eof_; })) return -1;
  }
  if (!exited_) {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_status_;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tollgate-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long v = 0;
      in >> v;
      return v;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

// The TCP connections (not listeners) a process holds: its socket descriptors that the kernel's
// table lists in a state other than LISTEN.
int open_connections(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::set<std::string> inodes;
  for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (target.starts_with("socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::ifstream table(proc + "/net/tcp");
  std::string line;
  std::getline(table, line);  // column names
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream columns(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    columns >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    constexpr std::string_view kListen = "0A";
    if (state != kListen && inodes.contains(inode)) ++count;
  }
  return count;
}

int open_fds(pid_t pid) {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace tollgate::test
