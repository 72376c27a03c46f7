// HTTP/1.1 (optionally TLS) server for the IdP: one acceptor, N worker threads each running its own
// io_context, one coroutine per keep-alive connection.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tollgate/common/asio.hpp"

namespace tollgate::dev_idp {

class DevIdp;

struct TlsFiles {
  std::string certificate_chain;  // PEM
  std::string private_key;        // PEM
};

class HttpServer {
 public:
  // Binds and listens at once, so the port is known before the IdP (whose issuer names it) exists.
  // Throws boost::system::system_error when the address or the TLS files are unusable.
  HttpServer(const tcp::endpoint& listen, const std::optional<TlsFiles>& tls, unsigned threads);
  ~HttpServer();

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  bool uses_tls() const { return tls_context_.has_value(); }

  // Serves `idp` until SIGINT or SIGTERM. `on_ready` runs once connections are being accepted.
  void run(DevIdp& idp, const std::function<void()>& on_ready);

 private:
  awaitable<void> accept_loop(DevIdp& idp);
  awaitable<void> purge_loop(DevIdp& idp);
  void stop();

  // Declaration order is destruction order in reverse, and it matters: the connections on the
  // workers use the TLS context, and a pending accept on the main context holds a socket of a
  // worker, so the main context goes first, then the workers, then the TLS context.
  std::optional<ssl::context> tls_context_;
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_guards_;
  asio::io_context main_context_;  // acceptor, signals, housekeeping
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::size_t next_worker_ = 0;
};

}  // namespace tollgate::dev_idp
