// `procpool serve`: the pool as a service, taking tasks from its socket (and a Redis
// queue) until SIGTERM; SIGHUP reloads the command line over the config file as it is.
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/units.hpp"
#include "supervisor/batch/run.hpp"
#include "supervisor/cli/command.hpp"
#include "supervisor/cli/config_flags.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/cli/kind_flags.hpp"
#include "supervisor/cli/kinds.hpp"
#include "supervisor/cli/pool_flags.hpp"
#include "supervisor/engine/usable_cores.hpp"
#include "supervisor/observe/log.hpp"
#include "supervisor/service/server.hpp"

namespace procpool::cli {
namespace {

struct ServeFlags {
  supervisor::ServeRequest request;
  PoolFlags pool;
  std::string config_path;
  std::string redis_address, instance = "0", lease = "30";
};

void add_serve_flags(CLI::App* serve, ServeFlags& f) {
  serve->add_option("--socket", f.request.socket_path, "Listen on this Unix socket (mode 0660)")
      ->capture_default_str()
      ->option_text("PATH")
      ->group(section::kService);
  serve->add_option("--results", f.request.results_path, "Append every result as a JSON line to FILE")
      ->option_text("FILE")
      ->group(section::kService);
  serve->add_option("--metrics-port", f.request.metrics_port,
                    "Serve Prometheus metrics on http://127.0.0.1:PORT/metrics (default: off)")
      ->check(CLI::Range(0, 65535))
      ->option_text("PORT")
      ->group(section::kService);
  serve->add_option("--log-format", f.request.log_format, "Log lines on stderr as plain text or JSON")
      ->check(CLI::IsMember({"plain", "json"}))
      ->capture_default_str()
      ->option_text("plain|json")
      ->group(section::kService);
  serve->add_option("--log-level", f.request.log_level, "Least severe messages logged")
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "error", "off"}))
      ->capture_default_str()
      ->option_text("trace|debug|info|warning|error|off")
      ->group(section::kService);
  serve->add_option("--redis", f.redis_address,
                    "Also take jobs from the Redis Streams queue at HOST:PORT (docs/SCALE_OUT.md)")
      ->option_text("HOST:PORT")
      ->group(section::kRedis);
  serve->add_option("--queue", f.request.redis.queue, "The Redis queue's name")
      ->capture_default_str()
      ->option_text("NAME")
      ->group(section::kRedis);
  serve->add_option("--instance", f.instance, "This host's consumer is HOSTNAME:INSTANCE")
      ->capture_default_str()
      ->option_text("NAME")
      ->group(section::kRedis);
  serve->add_option("--lease", f.lease, "SECONDS a silent host keeps its jobs before others take them over")
      ->capture_default_str()
      ->option_text("SECONDS")
      ->group(section::kRedis);
  serve->add_option("--max-workers", f.pool.pool.max_workers,
                    "The most workers a reload (SIGHUP) may raise --workers to (default: 4 x workers, at least 8)")
      ->check(CLI::Range(0u, 1024u))
      ->option_text("N")
      ->group(section::kPool);
  serve->add_option("--config", f.config_path,
                    std::string("Settings from this TOML file: [pool], [serve], and each kind's section for its "
                                "options (default: ") + supervisor::kDefaultConfigPath + " if it exists)")
      ->option_text("FILE")
      ->group(section::kService);
  add_pool_flags(serve, f.pool);
}

// What serve answers a request that brings options (a client's, a Redis entry's): the
// kind's options from the host's config with the request's laid over them, checked as
// any, refused where the request may not set them; then the kind's own word (exec runs
// only allowed commands). nullopt for a kind the host does not know.
std::function<std::optional<supervisor::KindSpec>(const std::string&, const KindOptions&)> request_kinds(
    const KindRegistry& registry, const std::vector<supervisor::ConfigSetting>& settings) {

  return [registry, settings](const std::string& name, const KindOptions& requested) -> std::optional<supervisor::KindSpec> {
    const KindInfo* kind = registry.find(name);
    if (kind == nullptr) return std::nullopt;
    const KindSchema schema = kind->schema();
    for (const auto& [key, value] : requested.values()) {
      const OptionSpec* spec = schema.find(key);
      if (spec == nullptr) continue;  // checked() names it with the kind's options
      if (spec->scope == OptionScope::Run || spec->scope == OptionScope::Batch)
        throw std::invalid_argument(name + " option '" + key + "' is for procpool run, not for a service");
      if (spec->scope == OptionScope::Host)
        throw std::invalid_argument(name + " option '" + key + "' is the host's to set, in its config file");
    }
    const KindOptions host = schema.checked(options_from_config(schema, settings));
    const KindOptions options = kind->check(merged(options_from_config(schema, settings), requested));
    if (schema.hooks.admit_request) schema.hooks.admit_request(host, requested);
    return supervisor::KindSpec{name, schema.task_options(options).encode()};
  };
}

// The parsed command line over the config file: what serve runs, and what a reload
// applies. Throws ConfigError (a bad file or kind option) or UsageError.
supervisor::ServeRequest serve_request_from(CLI::App* serve, ServeFlags& f, const KindRegistry& builtin) {
  KindRegistry registry = builtin;
  const auto settings = effective_config(f.config_path, registry);
  apply_config(serve, settings, true);
  supervisor::ServeRequest request = f.request;
  request.pool = pool_options(f.pool);
  const unsigned workers = request.pool.workers != 0 ? request.pool.workers : supervisor::usable_cores();
  if (!f.redis_address.empty()) {
    request.use_redis = true;
    request.redis.address = f.redis_address;
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    request.redis.consumer = std::string(host) + ":" + f.instance;
    const auto lease = procpool::parse_timeout(f.lease);
    if (!lease || lease->percent != 0 || lease->ns < 300'000'000ull)
      throw supervisor::UsageError("--lease must be SECONDS, at least 0.3, not '" + f.lease + "'");
    request.redis.lease_ms = lease->ns / 1'000'000;
    // A little ahead of the pool, not the whole queue: other hosts get their share.
    request.redis.max_entries = std::max(2u, 2 * workers);
  }
  if (request.pool.max_workers == 0)
    request.pool.max_workers = std::min(1024u, std::max(8u, 4 * workers));
  load_plugins(request.pool.plugins, registry);
  // serve defines every kind at once, each with the options of its config section.
  for (const KindInfo* kind : registry.all()) {
    const KindSchema schema = kind->schema();
    const KindOptions given = options_from_config(schema, settings);
    KindOptions options;
    try {
      options = kind->check(given);
    } catch (const std::invalid_argument& e) {
      // A kind that needs options nobody gave (exec needs a command) is left out (a
      // request may bring them); one whose configured options are wrong is an error.
      const bool configured = std::any_of(given.values().begin(), given.values().end(), [&](const auto& kv) {
        const OptionSpec* spec = schema.find(kv.first);
        return spec != nullptr && spec->scope == OptionScope::Task;
      });
      if (!configured) continue;
      throw supervisor::ConfigError("[" + kind->name + "]: " + e.what());
    }
    request.kinds.push_back({kind->name, schema.task_options(options).encode()});
  }
  request.request_kind = request_kinds(registry, settings);
  return request;
}

class ServeCommand final : public Command {
 public:
  explicit ServeCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("serve", "Run the pool as a service for procpool submit and Redis queues.");
    add_serve_flags(app_, flags_);
    document({"Takes tasks from a local socket (procpool submit) and, with --redis, from a Redis Streams queue, "
              "until SIGTERM, which lets running tasks finish. SIGHUP reloads the config file and resizes the "
              "pool; a config that does not check out is refused and the running one stays. Under systemd it "
              "speaks sd_notify (READY, RELOADING, STOPPING, WATCHDOG).",
              {}, {}, "0 stopped by SIGTERM, 1 could not serve (the socket is in use), 2 usage or config error."});
  }

  int execute(const Invocation& inv) override {
    const KindRegistry& builtin = *inv.builtin;
    supervisor::ServeRequest request = serve_request_from(app_, flags_, builtin);
    supervisor::setup_logging(request.log_format, request.log_level);
    // SIGHUP: the same command line again, over the config file as it is now.
    std::vector<std::string> args;  // reversed, as CLI11 takes a vector
    for (int i = inv.argc - 1; i > 0 && std::string_view(inv.argv[i]) != "serve"; --i) args.emplace_back(inv.argv[i]);
    request.reload = [args, &builtin]() {
      CLI::App again{"procpool serve"};
      ServeFlags flags;
      add_serve_flags(&again, flags);
      std::vector<std::string> copy = args;
      try {
        again.parse(copy);
      } catch (const CLI::ParseError& e) {
        throw supervisor::ConfigError(std::string("command line: ") + e.what());
      }
      return serve_request_from(&again, flags, builtin);
    };
    return supervisor::serve(request);
  }

 private:
  ServeFlags flags_;
};

}  // namespace

std::unique_ptr<Command> add_serve(CLI::App& parent) { return std::make_unique<ServeCommand>(parent); }

}  // namespace procpool::cli
