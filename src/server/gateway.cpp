#include "tollgate/server/gateway.hpp"

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "accept_loop.hpp"
#include "access_log.hpp"
#include "resource_limits.hpp"
#include "session.hpp"
#include "tollgate/admin/admin.hpp"
#include "tollgate/common/spawn.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/filters/registry.hpp"
#include "tollgate/server/forwarding.hpp"
#include "tollgate/server/runtime.hpp"
#include "tollgate/server/worker.hpp"

namespace tollgate::server {
namespace {

// ALPN (RFC 7301): h2 when the listener speaks HTTP/2 and the client offers it, else http/1.1. A
// client that offers neither gets no ALPN answer and speaks HTTP/1.1, as before ALPN.
int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* offered, unsigned int offered_length, void* http2) {
  constexpr std::string_view kH2 = "h2";
  constexpr std::string_view kHttp11 = "http/1.1";
  const auto offers = [&](std::string_view protocol) {
    for (unsigned int i = 0; i < offered_length;) {
      const unsigned int length = offered[i];
      if (i + 1 + length > offered_length) return false;
      if (std::string_view(reinterpret_cast<const char*>(offered + i + 1), length) == protocol) {
        *out = offered + i + 1;
        *out_length = static_cast<unsigned char>(length);
        return true;
      }
      i += 1 + length;
    }
    return false;
  };
  if (http2 != nullptr && offers(kH2)) return SSL_TLSEXT_ERR_OK;
  if (offers(kHttp11)) return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

std::shared_ptr<ssl::context> make_server_tls_context(const config::TlsFiles& files, bool http2) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  context->use_certificate_chain_file(files.certificate);
  context->use_private_key_file(files.key, ssl::context::pem);
  // The callback's argument only says whether h2 may be chosen.
  static int h2_allowed = 1;
  SSL_CTX_set_alpn_select_cb(context->native_handle(), select_protocol,
                             http2 ? &h2_allowed : nullptr);
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

void serve_client(Worker& worker, tcp::socket socket, ssl::context* tls, bool http2) {
  asio::co_spawn(worker.io(), run_session(worker, std::move(socket), tls, http2),
                 log_unexpected("session"));
}

// The worker's holds on `filters`: the ones it already had (in `previous`) for filters kept,
// new ones for new filters. Holds of filters gone stay with the older generations that use them.
std::vector<std::shared_ptr<WorkerHold>> holds_for(const FilterSet& filters,
                                                   const Generation* previous, unsigned worker) {
  std::vector<std::shared_ptr<WorkerHold>> holds;
  for (const auto& filter : filters.instances) {
    std::shared_ptr<WorkerHold> hold;
    if (previous) {
      for (const auto& old : previous->holds) {
        if (old->filter() == filter.get()) hold = old;
      }
    }
    holds.push_back(hold ? std::move(hold) : std::make_shared<WorkerHold>(filter, worker));
  }
  return holds;
}

// What /metrics and /status.json read: the configuration `worker` runs (set before the admin
// listener accepts anything), its instances' live state, and the counts.
metrics::View view_of(Worker& worker) {
  const Generation& generation = *worker.generation();
  metrics::View view{generation.config, worker.registry(), {}};
  const FilterSet& filters = *generation.filters;
  for (std::size_t i = 0; i < filters.instances.size(); ++i) {
    const filters::Filter& filter = *filters.instances[i];
    view.plugins.push_back({filters.names[i], generation.config->plugins[i].type->name,
                            filter.ready(), filter.cache_gauges(), filter.cluster_cache_state()});
  }
  return view;
}

// POST /cache/purge on the admin listener, which runs on `worker`'s thread: each instance of the
// configuration that worker runs purges its own cache, and Redis through that worker's client.
awaitable<std::vector<admin::InstancePurge>> purge_instances(Worker& worker,
                                                             filters::CachePurge what,
                                                             std::string plugin) {
  // Held across the awaits: a reload meanwhile does not take the instances away.
  const std::shared_ptr<Generation> generation = worker.generation();
  std::vector<admin::InstancePurge> purged;
  if (!generation) co_return purged;
  const FilterSet& set = *generation->filters;
  for (std::size_t i = 0; i < set.instances.size(); ++i) {
    if (!plugin.empty() && set.names[i] != plugin) continue;
    std::optional<filters::CachePurgeOutcome> outcome =
        co_await set.instances[i]->purge_cache(what, worker.index());
    if (outcome) purged.push_back({set.names[i], std::move(*outcome)});
  }
  co_return purged;
}

}  // namespace

struct Gateway::Impl {
  std::shared_ptr<const config::GatewayConfig> config;
  std::unique_ptr<metrics::Registry> registry;
  std::string config_path;
  std::vector<std::unique_ptr<Worker>> workers;
  // acceptors[w] holds worker w's acceptors, one per listen entry.
  std::vector<std::vector<std::unique_ptr<tcp::acceptor>>> acceptors;
  std::vector<std::shared_ptr<ssl::context>> tls_contexts;  // per listen entry, may be null
  std::unique_ptr<tcp::acceptor> admin_acceptor;
  admin::AdminState admin_state;
  asio::io_context main_io{1};

  std::unique_ptr<PluginRuntime> runtime;
  std::shared_ptr<const FilterSet> filters;

  // The filters' per-worker pools belong to the workers' io_contexts, and an I/O object must not
  // outlive its io_context: every generation goes while all of them exist. (The workers' threads
  // have returned from run(): no session or other coroutine holds one any more.)
  ~Impl() {
    for (auto& worker : workers) worker->set_generation(nullptr);
  }

  // Each worker gets the new configuration on its own thread, with pools made for its executor,
  // and its holds on the filters made or kept there.
  void install(const std::shared_ptr<const config::GatewayConfig>& c,
               const std::shared_ptr<const FilterSet>& set) {
    auto router = std::make_shared<const routing::Router>(c->routes);
    auto protected_headers = std::make_shared<const ProtectedHeaders>(*c);
    // The counts of every route, made here (on this thread) so that workers only read the map.
    std::vector<metrics::RouteStats*> route_stats;
    for (const config::Route& route : c->routes)
      route_stats.push_back(&registry->route(route.name));
    for (auto& w : workers) {
      Worker* worker = w.get();
      asio::post(worker->io(), [worker, c, router, protected_headers, set, route_stats] {
        const unsigned index = worker->index();
        auto g = std::make_shared<Generation>();
        g->config = c;
        g->router = router;
        g->protected_headers = protected_headers;
        g->filters = set;
        g->holds = holds_for(*set, worker->generation().get(), index);
        g->upstreams = std::make_unique<upstream::UpstreamSet>(worker->executor(), *c,
                                                               worker->registry(), index);
        for (metrics::RouteStats* stats : route_stats)
          g->route_stats.push_back(&stats->cells[index]);
        g->unmatched_stats = &worker->registry().unmatched().cells[index];
        worker->set_generation(std::move(g));
      });
    }
  }

  filters::StartContext start_context() {
    filters::StartContext sc;
    for (auto& w : workers) sc.worker_executors.push_back(w->executor());
    sc.metrics = registry.get();
    return sc;
  }

  bool bind_listeners() {
    acceptors.resize(workers.size());
    for (const auto& listen : config->listens) {
      tcp::endpoint endpoint(asio::ip::make_address(listen.host), listen.port);
      tls_contexts.push_back(listen.tls ? make_server_tls_context(*listen.tls, listen.http2)
                                        : nullptr);
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
      registry->reload_failed(loaded.error().to_string());
      spdlog::error("reload failed, keeping the running configuration: {}",
                    loaded.error().to_string());
      return;
    }
    auto next = *loaded;
    if (next->workers != config->workers || next->listens.size() != config->listens.size()) {
      spdlog::warn("reload: changes to listen and workers take effect after a restart");
    }
    std::shared_ptr<const FilterSet> next_filters;
    try {
      next_filters = runtime->apply(*next);
    } catch (const std::exception& e) {
      registry->reload_failed(e.what());
      spdlog::error("reload failed, keeping the running configuration: {}", e.what());
      return;
    }
    install(next, next_filters);
    registry->reload_succeeded();
    try {
      configure_logging(next->log);
    } catch (const std::exception& e) {  // e.g. an access-log file that cannot be opened
      spdlog::error("reload: the log settings could not all be applied: {}", e.what());
    }
    config = next;
    filters = next_filters;
    spdlog::info("configuration reloaded from {}", config_path);
  }

  // Stop accepting, let busy sessions finish their current response, then stop everything.
  void drain_and_stop() {
    admin_state.serving = false;
    const auto deadline = std::chrono::steady_clock::now() + config->timeouts.shutdown_grace;
    for (auto& w : workers) {
      Worker* worker = w.get();
      auto* mine = &acceptors[worker->index()];
      asio::post(worker->io(), [worker, mine, deadline] {
        for (auto& a : *mine) {
          error_code ec;
          a->close(ec);
        }
        worker->start_draining(deadline);
      });
    }
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
  s.registry = std::make_unique<metrics::Registry>(s.config->workers);
  for (unsigned i = 0; i < s.config->workers; ++i) {
    s.workers.push_back(std::make_unique<Worker>(i, *s.registry));
  }
  try {
    if (!s.bind_listeners()) return 1;
  } catch (const std::exception& e) {  // TLS files unreadable at start
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  s.runtime = std::make_unique<PluginRuntime>(s.start_context());
  try {
    s.filters = s.runtime->apply(*s.config);
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  s.install(s.config, s.filters);

  for (auto& w : s.workers) {
    for (std::size_t i = 0; i < s.acceptors[w->index()].size(); ++i) {
      Worker* worker = w.get();
      ssl::context* tls = s.tls_contexts[i].get();
      const bool http2 = s.config->listens[i].http2;
      asio::co_spawn(
          w->io(),
          accept_connections(*s.acceptors[w->index()][i], "worker " + std::to_string(w->index()),
                             [worker, tls, http2](tcp::socket socket) {
                               serve_client(*worker, std::move(socket), tls, http2);
                             }),
          asio::detached);
    }
  }
  if (s.admin_acceptor) {
    Worker* admin_worker = s.workers.front().get();
    // Read on the admin listener's thread, from the configuration that worker runs.
    s.admin_state.waiting_for = [admin_worker] {
      const auto& generation = admin_worker->generation();
      return generation ? generation->filters->not_ready() : std::vector<std::string>{};
    };
    s.admin_state.view = [admin_worker] { return view_of(*admin_worker); };
    s.admin_state.purge = [admin_worker](filters::CachePurge what, std::string plugin) {
      return purge_instances(*admin_worker, std::move(what), std::move(plugin));
    };
    s.admin_state.api_token = [admin_worker] {
      const auto& generation = admin_worker->generation();
      return generation ? generation->config->admin.api_token : std::string();
    };
    s.admin_state.loopback = s.admin_acceptor->local_endpoint().address().is_loopback();
    if (!s.admin_state.loopback && s.config->admin.api_token.empty()) {
      spdlog::info(
          "admin listener not on loopback and no admin.api_token: POST /cache/purge is refused "
          "(403)");
    }
    s.admin_state.config_path = s.config_path;
    asio::co_spawn(admin_worker->io(),
                   accept_connections(*s.admin_acceptor, "admin",
                                      [&s](tcp::socket socket) {
                                        asio::co_spawn(s.admin_acceptor->get_executor(),
                                                       admin::run_admin_session(std::move(socket),
                                                                                s.admin_state),
                                                       asio::detached);
                                      }),
                   asio::detached);
  }

  // Before any connection is accepted: the signal set makes the main loop's descriptors, which
  // clients arriving at once could otherwise leave it without.
  asio::signal_set signals(s.main_io, SIGTERM, SIGINT, SIGHUP);

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& w : s.workers) {
    guards.push_back(asio::make_work_guard(w->io()));
    threads.emplace_back([worker = w.get()] {
      // "worker-N" in top -H and /proc/PID/task/*/comm: each worker's CPU can be told apart.
      const std::string name = "worker-" + std::to_string(worker->index());
      ::pthread_setname_np(::pthread_self(), name.c_str());
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
  s.admin_state.serving = true;
  spdlog::info("tollgate {} started with {} worker(s)", TOLLGATE_VERSION, s.workers.size());

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

  s.runtime->stop_all();
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
