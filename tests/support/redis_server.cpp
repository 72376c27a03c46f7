#include "redis_server.hpp"

#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tollgate::test {
namespace {

constexpr int kStartAttempts = 5;

std::string program(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  throw std::runtime_error(name + " not found: scripts/test.sh installs redis-server");
}

// A port nothing listens on right now (the kernel's choice); the caller may lose it to a race.
std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra)
    : dir_(std::make_unique<TempDir>()), extra_(std::move(extra)) {
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    port_ = free_port();
    if (try_start()) return;
  }
  throw std::runtime_error("redis-server did not start");
}

RedisServer::~RedisServer() = default;

bool RedisServer::try_start() {
  std::vector<std::string> argv = {program("redis-server"),
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port_),
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_->path()};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  auto process = std::make_unique<Process>(argv);
  try {
    process->wait_for_line("(Ready to accept connections)");
  } catch (const std::runtime_error&) {
    if (process->output().find("Address already in use") != std::string::npos) return false;
    throw;
  }
  process_ = std::move(process);
  return true;
}

void RedisServer::stop() {
  process_.reset();  // SIGKILL and reap
}

void RedisServer::start() {
  if (process_) return;
  // Connections to the old server may hold the port in TIME_WAIT on the client side only, so
  // the same port binds again; a few attempts cover a slow kernel.
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    if (try_start()) return;
  }
  throw std::runtime_error("redis-server did not start again on port " + std::to_string(port_));
}

std::string RedisServer::cli(const std::vector<std::string>& arguments) const {
  std::vector<std::string> argv = {program("redis-cli"), "-h", "127.0.0.1", "-p",
                                   std::to_string(port_)};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  Process process(argv);
  process.wait_exit();
  std::string out = process.output();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

redis::ReplyResult RedisServer::command(const std::vector<std::string>& arguments) const {
  boost::asio::io_context io;
  redis::Options options;
  options.port = port_;
  auto connection = redis::Connection::open(io.get_executor(), options, nullptr);
  std::optional<redis::ReplyResult> out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::vector<std::string_view> views(arguments.begin(), arguments.end());
        out = co_await connection->command(views);
        connection->close(redis::Failure::closed);
      },
      [&io](std::exception_ptr) { io.stop(); });  // the connection's timer may still wait
  io.run_for(std::chrono::seconds(5));
  if (!out) return redis::Failure::timeout;
  return std::move(*out);
}

std::vector<std::string> RedisServer::all_keys() const {
  std::vector<std::string> keys;
  std::string cursor = "0";
  for (int round = 0; round < 10'000; ++round) {
    redis::ReplyResult reply = command({"SCAN", cursor, "COUNT", "1000"});
    if (!reply || reply->elements.size() != 2) throw std::runtime_error("SCAN failed");
    cursor = reply->elements[0].text;
    for (const redis::Reply& key : reply->elements[1].elements) keys.push_back(key.text);
    if (cursor == "0") break;
  }
  return keys;
}

}  // namespace tollgate::test
