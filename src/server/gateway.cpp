#include "tollgate/server/gateway.hpp"

#include <csignal>
#include <iostream>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "access_log.hpp"
#include "resource_limits.hpp"
#include "session.hpp"
#include "tollgate/admin/admin.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/server/worker.hpp"

namespace tollgate::server {
namespace {

// Every distinct filter instance of a config (an instance shared by routes counts once).
std::set<const filters::Filter*> filters_of(const config::GatewayConfig& config) {
  std::set<const filters::Filter*> out;
  for (const auto& route : config.routes) {
    for (const auto& f : route.filters) out.insert(f.get());
  }
  return out;
}

std::shared_ptr<ssl::context> make_server_tls_context(const config::TlsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  context->use_certificate_chain_file(files.certificate);
  context->use_private_key_file(files.key, ssl::context::pem);
  return context;
}

std::string endpoint_text(const tcp::endpoint& e) {
  const auto a = e.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

void log_open_file_limit(const OpenFileLimit& limit) {
  if (limit.failed) {
    spdlog::warn("could not raise the open-file limit above {}", limit.before);
  } else if (limit.after != limit.before) {
    spdlog::info("open-file limit raised from {} to {}", limit.before, limit.after);
  }
}

// Retries accept() after a transient failure such as EMFILE without spinning.
awaitable<void> accept_loop(Worker& worker, tcp::acceptor& acceptor, ssl::context* tls) {
  asio::steady_timer backoff(worker.io());
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    asio::co_spawn(worker.io(), run_session(worker, std::move(socket), tls),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("session ended by an unexpected error: {}", ex.what());
                     }
                   });
  }
}

awaitable<void> admin_accept_loop(tcp::acceptor& acceptor, const admin::AdminState& state) {
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), admin::run_admin_session(std::move(socket), state),
                   asio::detached);
  }
}

}  // namespace

struct Gateway::Impl {
  std::shared_ptr<const config::GatewayConfig> config;
  std::string config_path;
  std::vector<std::unique_ptr<Worker>> workers;
  // acceptors[w] holds worker w's acceptors, one per listen entry.
  std::vector<std::vector<std::unique_ptr<tcp::acceptor>>> acceptors;
  std::vector<std::shared_ptr<ssl::context>> tls_contexts;  // per listen entry, may be null
  std::unique_ptr<tcp::acceptor> admin_acceptor;
  admin::AdminState admin_state;
  asio::io_context main_io{1};

  // The IdP client's connection pools and timer live in the configuration's filters but belong to
  // the workers' io_contexts, and an I/O object must not outlive its io_context. So every reference
  // to a configuration goes while all of them exist: ours and each worker's. (The workers' threads
  // have returned from run(): no session or other coroutine holds one any more.)
  ~Impl() {
    config.reset();
    for (auto& worker : workers) worker->set_generation(nullptr);
  }

  std::shared_ptr<const routing::Router> router_for(const config::GatewayConfig& c) {
    return std::make_shared<const routing::Router>(c.routes);
  }

  // Each worker gets the new configuration on its own thread, with pools made for its executor.
  void install(const std::shared_ptr<const config::GatewayConfig>& c) {
    auto router = router_for(*c);
    for (auto& w : workers) {
      Worker* worker = w.get();
      asio::post(worker->io(), [worker, c, router] {
        auto g = std::make_shared<Generation>();
        g->config = c;
        g->router = router;
        g->upstreams = std::make_unique<upstream::UpstreamSet>(worker->executor(), *c);
        worker->set_generation(std::move(g));
      });
    }
  }

  filters::StartContext start_context() {
    filters::StartContext sc;
    for (auto& w : workers) sc.worker_executors.push_back(w->executor());
    return sc;
  }

  bool bind_listeners() {
    acceptors.resize(workers.size());
    for (const auto& listen : config->listens) {
      tcp::endpoint endpoint(asio::ip::make_address(listen.host), listen.port);
      tls_contexts.push_back(listen.tls ? make_server_tls_context(*listen.tls) : nullptr);
      // One acceptor per worker on the same port (SO_REUSEPORT): the kernel spreads connections.
      // With port 0 the first bind picks the port and the others join it.
      for (auto& w : workers) {
        auto acceptor = std::make_unique<tcp::acceptor>(w->io());
        error_code ec;
        acceptor->open(endpoint.protocol(), ec);
        if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) {
          int one = 1;
          ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        }
        if (!ec) acceptor->bind(endpoint, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
          spdlog::critical("cannot listen on {}: {}", endpoint_text(endpoint), ec.message());
          return false;
        }
        endpoint = acceptor->local_endpoint();
        acceptors[w->index()].push_back(std::move(acceptor));
      }
      const std::string line =
          "tollgate listening on " + endpoint_text(endpoint) + (listen.tls ? " (tls)" : "");
      spdlog::info("{}", line);
    }
    if (config->admin.enabled) {
      tcp::endpoint endpoint(asio::ip::make_address(config->admin.host), config->admin.port);
      admin_acceptor = std::make_unique<tcp::acceptor>(workers.front()->io());
      error_code ec;
      admin_acceptor->open(endpoint.protocol(), ec);
      if (!ec) admin_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) admin_acceptor->bind(endpoint, ec);
      if (!ec) admin_acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        spdlog::critical("cannot listen on {} (admin): {}", endpoint_text(endpoint), ec.message());
        return false;
      }
      spdlog::info("admin listening on {}", endpoint_text(admin_acceptor->local_endpoint()));
    }
    return true;
  }

  void reload() {
    auto loaded = config::load_config(config_path);
    if (!loaded) {
      spdlog::error("reload failed, keeping the running configuration: {}",
                    loaded.error().to_string());
      return;
    }
    auto next = *loaded;
    if (next->workers != config->workers || next->listens.size() != config->listens.size()) {
      spdlog::warn("reload: changes to listen and workers take effect after a restart");
    }
    const auto old_filters = filters_of(*config);
    const auto sc = start_context();
    for (const auto* f : filters_of(*next)) const_cast<filters::Filter*>(f)->start(sc);
    install(next);
    for (const auto* f : old_filters) const_cast<filters::Filter*>(f)->stop();
    config = next;
    spdlog::info("configuration reloaded from {}", config_path);
  }

  // Stop accepting, let busy sessions finish their current response, then stop everything.
  void drain_and_stop() {
    admin_state.ready = false;
    for (auto& w : workers) {
      Worker* worker = w.get();
      auto* mine = &acceptors[worker->index()];
      asio::post(worker->io(), [worker, mine] {
        for (auto& a : *mine) {
          error_code ec;
          a->close(ec);
        }
        worker->start_draining();
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + config->timeouts.shutdown_grace;
    auto timer = std::make_shared<asio::steady_timer>(main_io);
    auto check = std::make_shared<std::function<void()>>();
    *check = [this, timer, deadline, check] {
      std::size_t live = 0;
      for (auto& w : workers) live += w->session_count();
      if (live == 0 || std::chrono::steady_clock::now() >= deadline) {
        if (live) spdlog::warn("drain deadline reached with {} connections open", live);
        main_io.stop();
        *check = nullptr;  // break the self-reference
        return;
      }
      timer->expires_after(std::chrono::milliseconds(20));
      timer->async_wait([check](error_code) {
        if (*check) (*check)();
      });
    };
    (*check)();
  }
};

Gateway::Gateway(std::shared_ptr<const config::GatewayConfig> config, std::string config_path)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->config_path = std::move(config_path);
}

Gateway::~Gateway() = default;

int Gateway::run() {
  Impl& s = *impl_;
  configure_logging(s.config->log);
  log_open_file_limit(raise_open_file_limit());
  for (unsigned i = 0; i < s.config->workers; ++i) s.workers.push_back(std::make_unique<Worker>(i));
  try {
    if (!s.bind_listeners()) return 1;
  } catch (const std::exception& e) {  // TLS files unreadable at start
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  s.install(s.config);
  const auto sc = s.start_context();
  for (const auto* f : filters_of(*s.config)) const_cast<filters::Filter*>(f)->start(sc);

  for (auto& w : s.workers) {
    for (std::size_t i = 0; i < s.acceptors[w->index()].size(); ++i) {
      asio::co_spawn(w->io(), accept_loop(*w, *s.acceptors[w->index()][i], s.tls_contexts[i].get()),
                     asio::detached);
    }
  }
  if (s.admin_acceptor) {
    asio::co_spawn(s.workers.front()->io(), admin_accept_loop(*s.admin_acceptor, s.admin_state),
                   asio::detached);
  }

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& w : s.workers) {
    guards.push_back(asio::make_work_guard(w->io()));
    threads.emplace_back([worker = w.get()] {
      // An exception thrown by a completion handler (not a coroutine, whose errors end only its
      // own session) leaves run(); log it and keep serving rather than take the process down.
      for (;;) {
        try {
          worker->io().run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("worker {}: unexpected error: {}", worker->index(), e.what());
        }
      }
    });
  }
  s.admin_state.ready = true;
  spdlog::info("tollgate {} started with {} worker(s)", TOLLGATE_VERSION, s.workers.size());

  asio::signal_set signals(s.main_io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(error_code, int)> on_signal = [&](error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      s.reload();
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("received signal {}, draining connections", signal);
    s.drain_and_stop();
  };
  signals.async_wait(on_signal);
  s.main_io.run();

  for (const auto* f : filters_of(*s.config)) const_cast<filters::Filter*>(f)->stop();
  if (s.admin_acceptor) {
    asio::post(s.workers.front()->io(), [&] {
      error_code ec;
      s.admin_acceptor->close(ec);
    });
  }
  for (auto& g : guards) g.reset();
  for (auto& w : s.workers) w->io().stop();
  for (auto& t : threads) t.join();
  spdlog::info("tollgate stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace tollgate::server
