// `lifeline nbd serve`: serves an image file over NBD until SIGINT/SIGTERM. Prints the
// NBD URL (and the bound port) on stdout so scripts and tests can connect.
// Single-threaded command body; the server runs its own threads.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>
#include <pthread.h>

#include "cli/commands.h"
#include "common/log.h"
#include "nbd/export_registry.h"
#include "nbd/file_backend.h"
#include "nbd/server.h"
#include "nbd/tls_stream.h"

namespace lifeline::cli {
namespace {

struct ServeArgs {
  std::string image;
  std::string name;
  std::string bind = "127.0.0.1";
  int port = 10809;
  std::string unix_path;
  bool read_only = false;
  int threads = 8;
  std::string tls_cert;
  std::string tls_key;
  bool tls_required = false;
};

Status Serve(const ServeArgs& a) {
  // Block the stop signals before any thread starts so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  log::SetLevelFromEnv(log::Level::kInfo);

  LL_ASSIGN_OR_RETURN(auto backend, nbd::FileBackend::Open(a.image, a.read_only));
  nbd::ExportRegistry registry;
  // The description names the file, not its directory: clients need not learn our paths.
  std::string description = a.image.substr(a.image.find_last_of('/') + 1);
  LL_RETURN_IF_ERROR(
      registry.Add(nbd::Export{a.name, description, std::move(backend), a.read_only}));

  nbd::ServerOptions options;
  options.threads_per_connection = a.threads;
  if (!a.tls_cert.empty() || !a.tls_key.empty()) {
    if (a.tls_cert.empty() || a.tls_key.empty()) {
      return Status::InvalidArgument("--tls-cert and --tls-key go together");
    }
    LL_ASSIGN_OR_RETURN(options.tls, nbd::TlsServerContext::Create(a.tls_cert, a.tls_key));
    options.tls_required = a.tls_required;
  } else if (a.tls_required) {
    return Status::InvalidArgument("--tls-required needs --tls-cert and --tls-key");
  }
  nbd::Server server(&registry, options);
  std::string url;
  bool tls = options.tls != nullptr;
  if (!a.unix_path.empty()) {
    LL_RETURN_IF_ERROR(server.ListenUnix(a.unix_path));
    url = std::string(tls ? "nbds+unix" : "nbd+unix") + ":///" + a.name + "?socket=" + a.unix_path;
  } else {
    if (a.port < 0 || a.port > 65535) return Status::InvalidArgument("bad --port");
    LL_RETURN_IF_ERROR(server.ListenTcp(a.bind, uint16_t(a.port)));
    std::string host = a.bind.find(':') != std::string::npos ? "[" + a.bind + "]" : a.bind;
    url = std::string(tls ? "nbds" : "nbd") + "://" + host + ":" +
          std::to_string(server.tcp_port()) + "/" + a.name;
  }
  LL_RETURN_IF_ERROR(server.Start());
  if (Globals().json) {
    nlohmann::json j = {{"url", url}, {"export", a.name}, {"image", a.image},
                        {"read_only", a.read_only}};
    if (a.unix_path.empty()) j["port"] = server.tcp_port();
    else j["socket"] = a.unix_path;
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << url << std::endl;
  }
  std::cerr << "lifeline: serving " << a.image << " at " << url
            << (a.unix_path.empty() ? " (port " + std::to_string(server.tcp_port()) + ")" : "")
            << "; SIGINT or SIGTERM stops" << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "lifeline: stopping on signal " << sig << std::endl;
  server.Stop();
  return Status::Ok();
}

}  // namespace

void RegisterNbdCommands(CLI::App& app) {
  auto* nbd = app.add_subcommand("nbd", "NBD server");
  nbd->require_subcommand(1);
  auto args = std::make_shared<ServeArgs>();
  auto* serve = nbd->add_subcommand("serve", "serve an image file over NBD until SIGINT/SIGTERM");
  serve->add_option("image", args->image, "raw image file or block device")->required();
  serve->add_option("--name", args->name, "export name (default: empty, the default export)");
  auto* port = serve->add_option("--port", args->port, "TCP port (0 picks a free one)")
                   ->capture_default_str();
  auto* unix_opt = serve->add_option("--unix", args->unix_path, "serve on a Unix socket instead");
  port->excludes(unix_opt);
  serve->add_option("--bind", args->bind, "address to listen on")->capture_default_str();
  serve->add_flag("--read-only", args->read_only, "refuse writes, trims and zeroing");
  serve->add_option("--threads", args->threads, "worker threads per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  serve->add_option("--tls-cert", args->tls_cert, "PEM certificate chain: enables STARTTLS");
  serve->add_option("--tls-key", args->tls_key, "PEM private key for --tls-cert");
  serve->add_flag("--tls-required", args->tls_required, "refuse clients that do not start TLS");
  serve->add_flag("--json", Globals().json, "JSON output on stdout");
  serve->callback([args] { RunCommand([&] { return Serve(*args); }); });
}

}  // namespace lifeline::cli
