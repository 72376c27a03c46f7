// echo-server: an HTTP/1.1 upstream for tollgate's tests, demos and benchmarks. See --help.
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <thread>
#include <variant>
#include <vector>

#include "tollgate/common/asio.hpp"

#include "options.hpp"
#include "session.hpp"

namespace echo_server {
namespace {

namespace asio = tollgate::asio;
using tollgate::tcp;

void log_failure(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    std::cerr << "echo-server: connection failed: " << e.what() << '\n';
  }
}

asio::awaitable<void> accept_connections(tcp::acceptor& acceptor, const Options& options) {
  // Only this coroutine counts connections, so a plain counter is enough.
  std::uint64_t next_connection_id = 1;
  for (;;) {
    // Each connection gets its own strand: its coroutine and its timers never run concurrently.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                                                       asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning on the error.
      std::cerr << "echo-server: accept failed: " << ec.message() << '\n';
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::use_awaitable);
      continue;
    }
    tcp::socket connection(std::move(socket));
    connection.set_option(tcp::no_delay(true), ec);
    const auto executor = connection.get_executor();
    asio::co_spawn(executor, run_session(std::move(connection), options, next_connection_id++),
                   log_failure);
  }
}

std::string printable(const tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  const std::string host = endpoint.address().is_v6() ? "[" + address + "]" : address;
  return host + ":" + std::to_string(endpoint.port());
}

int serve(const Options& options) {
  asio::io_context io(static_cast<int>(options.threads));
  const tcp::endpoint endpoint(asio::ip::make_address(options.address), options.port);
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const tollgate::error_code&, int) { io.stop(); });
  asio::co_spawn(io, accept_connections(acceptor, options), [](std::exception_ptr failure) {
    if (failure) std::rethrow_exception(failure);
  });

  // Tests wait for exactly this line before they connect.
  std::cout << "echo-server listening on " << printable(acceptor.local_endpoint()) << std::endl;

  std::vector<std::jthread> workers;
  for (unsigned i = 1; i < options.threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  return 0;
}

}  // namespace
}  // namespace echo_server

int main(int argc, char** argv) {
  const auto parsed = echo_server::parse_options(argc, argv);
  if (std::holds_alternative<echo_server::ShowHelp>(parsed)) {
    std::cout << echo_server::usage();
    return 0;
  }
  if (const auto* error = std::get_if<echo_server::UsageError>(&parsed)) {
    std::cerr << "echo-server: " << error->message << " (see --help)\n";
    return 2;
  }
  try {
    return echo_server::serve(std::get<echo_server::Options>(parsed));
  } catch (const std::exception& e) {
    std::cerr << "echo-server: " << e.what() << '\n';
    return 1;
  }
}
