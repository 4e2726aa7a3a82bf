#include "supervisor/cli/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <set>
#include <tuple>

#include "child/plugin_loader.hpp"
#include "supervisor/config/config.hpp"
#include "supervisor/cli/kind_flags.hpp"
#include "supervisor/batch/intake.hpp"
#include "supervisor/observe/log.hpp"
#include "supervisor/redis/fan_out.hpp"
#include "supervisor/redis/producer.hpp"
#include "supervisor/service/server.hpp"
#include "supervisor/observe/status.hpp"
#include "supervisor/batch/run.hpp"
#include "ipc/units.hpp"
#include "supervisor/engine/usable_cores.hpp"

namespace procpool::cli {

namespace {

std::string kinds_help(const KindRegistry& registry) {
  std::string out = "Task kinds:\n";
  for (const KindInfo* k : registry.all()) {
    out += "  " + k->name + std::string(k->name.size() < 12 ? 12 - k->name.size() : 1, ' ') + k->summary + "\n";
  }
  return out;
}

// The registry's kinds as the front ends see them.
std::vector<KindSchema> schemas(const KindRegistry& registry) {
  std::vector<KindSchema> out;
  for (const KindInfo* k : registry.all()) out.push_back(k->schema());
  return out;
}

const KindInfo& find_kind(const KindRegistry& registry, const std::string& kind) {
  const KindInfo* info = registry.find(kind);
  if (info != nullptr) return *info;
  std::string names;
  for (const KindInfo* k : registry.all()) names += (names.empty() ? "" : ", ") + k->name;
  throw supervisor::UsageError("unknown task kind '" + kind + "' (kinds: " + names + ")");
}

// The kind's options checked by the kind itself: canonical, or a UsageError.
KindOptions checked_options(const KindInfo& kind, const KindOptions& given) {
  try {
    return kind.check(given);
  } catch (const std::invalid_argument& e) {
    throw supervisor::UsageError(e.what());
  }
}

// Before the command line is parsed, its flags must exist: the kinds of --plugin
// libraries (and of the config file's [pool] plugin) are loaded first, from a scan of
// the arguments.
std::vector<std::string> scanned_values(int argc, char** argv, const std::string& flag) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == flag && i + 1 < argc) out.emplace_back(argv[++i]);
    else if (arg.rfind(flag + "=", 0) == 0) out.push_back(arg.substr(flag.size() + 1));
  }
  return out;
}

// The config file's [pool] (and for serve [serve] and [redis]) settings become the flags
// the command line did not give: through CLI11 itself, so they get the same conversions
// and range checks (and errors name the file, line and column). Kind sections become
// kind options (kind_flags.hpp).
void apply_config(CLI::App* app, const std::vector<supervisor::ConfigSetting>& settings, bool serve) {
  for (const supervisor::ConfigSetting& s : settings) {
    const bool applies = s.section == "pool" || (serve && (s.section == "serve" || s.section == "redis"));
    if (!applies) continue;
    CLI::Option* option = app->get_option_no_throw(s.section == "redis" && s.key == "address" ? "--redis" : "--" + s.key);
    if (option == nullptr || option->count() != 0) continue;  // unknown here, or given on the command line
    try {
      for (const std::string& v : s.values) option->add_result(v);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw supervisor::ConfigError(s.where + ": key '" + s.key + "' in [" + s.section + "]: " + e.what());
    }
  }
}

// The given config file, else the default one if it exists, else none.
std::string config_path_or_default(const std::string& given) {
  std::error_code ec;
  if (!given.empty()) return given;
  if (std::filesystem::exists(supervisor::kDefaultConfigPath, ec)) return supervisor::kDefaultConfigPath;
  return "";
}

// Loads each plugin library once, however often it is named (flags, config file).
void load_plugins(const std::vector<std::string>& paths, KindRegistry& registry) {
  static std::set<std::pair<const KindRegistry*, std::string>> loaded;
  for (const std::string& plugin : paths) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(plugin, ec);
    const std::string path = ec ? plugin : absolute.lexically_normal().string();
    if (loaded.insert({&registry, path}).second) load_plugin(path, registry);
  }
}

// The registry's kinds plus those of the plugins the config file names: its kind
// sections can only be checked against the kinds they configure.
void load_config_plugins(const std::string& path, KindRegistry& registry) {
  if (!path.empty()) load_plugins(supervisor::plugins_in_config(path), registry);
}

std::vector<supervisor::ConfigSetting> effective_config(const std::string& given, KindRegistry& registry) {
  const std::string path = config_path_or_default(given);
  if (path.empty()) return {};
  load_config_plugins(path, registry);
  return supervisor::load_config(path, schemas(registry));
}

int check_config(const std::string& path, bool example, KindRegistry& registry) {
  if (example) {
    std::fputs(supervisor::describe_config({}, schemas(registry)).c_str(), stdout);
    return 0;
  }
  try {
    load_config_plugins(path, registry);
    const auto settings = supervisor::load_config(path, schemas(registry));
    std::fputs(supervisor::describe_config(settings, schemas(registry)).c_str(), stdout);
    std::fprintf(stderr, "procpool: %s: ok (%zu settings)\n", path.c_str(), settings.size());
    return 0;
  } catch (const std::exception& e) {  // a ConfigError, or a plugin that cannot be loaded
    std::fprintf(stderr, "procpool: %s\n", e.what());
    return 1;
  }
}

// The pool's own flags, shared by run and serve (and the [pool] section of the config).
struct PoolFlags {
  supervisor::PoolOptions pool;
  std::string timeout, max_memory, hard_memory;
  unsigned restart_period = 10;
};

// A producer of a Redis queue (submit --redis, run --redis).
struct ProducerFlags {
  supervisor::redis::ProducerSettings settings;
  std::string address;
  double reconnect_s = 60;
  supervisor::redis::ProducerSettings resolved() const {
    supervisor::redis::ProducerSettings out = settings;
    out.address = address;
    out.reconnect_ms = static_cast<uint64_t>(reconnect_s * 1000);
    return out;
  }
};

struct ServeFlags {
  supervisor::ServeRequest request;
  PoolFlags pool;
  std::string config_path;
  std::string redis_address, instance = "0", lease = "30";
};

}  // namespace

void add_producer_flags(CLI::App* app, ProducerFlags& f, const std::string& redis_help) {
  app->add_option("--redis", f.address, redis_help);
  app->add_option("--queue", f.settings.queue, "With --redis: the queue's name")->capture_default_str();
  app->add_option("--chunk", f.settings.chunk, "With --redis: inputs per queue entry")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app->add_option("--reconnect-for", f.reconnect_s,
                  "With --redis: SECONDS to keep trying to reach a lost Redis before giving up")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
}

void add_pool_flags(CLI::App* app, PoolFlags& f) {
  app->add_option("-j,--workers", f.pool.workers, "Worker processes (default: usable cores, now " +
                                                       std::to_string(supervisor::usable_cores()) + ")")
      ->check(CLI::Range(1u, 1024u));
  app->add_option("--max-attempts", f.pool.max_attempts,
                  "Runs of a task that may crash its worker before it is reported crashed (default 3)")
      ->check(CLI::Range(1u, 100u));
  app->add_option("--timeout", f.timeout,
                  "Kill a task's worker after SECONDS (e.g. 30, 2.5), or after N% of the kind's median run "
                  "time (e.g. 300%, at least 100 ms); the task is reported timeout (default: none)");
  app->add_flag("--retry-timeouts", f.pool.retry_timeouts, "Retry a timed-out task, up to --max-attempts");
  app->add_option("--max-tasks-per-child", f.pool.max_tasks_per_child,
                  "Replace a worker after N tasks (default: never)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app->add_option("--max-memory-per-child", f.max_memory,
                  "Replace a worker whose RSS is over SIZE (e.g. 512M) once it finishes its tasks");
  app->add_option("--hard-memory-per-child", f.hard_memory,
                  "Kill a worker whose RSS is over SIZE at once, charging its task "
                  "(default: twice --max-memory-per-child, else half the machine's memory)");
  app->add_option("--max-restarts", f.pool.max_restarts,
                  "Stop the run when workers died more than N times within --restart-period "
                  "(default: 20 or twice the workers, whichever is more)")
      ->check(CLI::Range(1u, 1000000u));
  app->add_option("--restart-period", f.restart_period, "SECONDS for --max-restarts (default 10)")
      ->check(CLI::Range(1u, 86400u));
  app->add_option("--plugin", f.pool.plugins, "Load task kinds from the shared library PATH (repeatable)")
      ->allow_extra_args(false);  // one PATH per --plugin; what follows is an input
}

// The flags kept as text, checked and converted; throws UsageError.
supervisor::PoolOptions pool_options(PoolFlags f) {
  f.pool.restart_period_ns = uint64_t{f.restart_period} * 1'000'000'000ull;
  if (!f.timeout.empty()) {
    const auto spec = procpool::parse_timeout(f.timeout);
    if (!spec)
      throw supervisor::UsageError("--timeout must be SECONDS (0.001 to 2592000) or a percentage like 300%, not '" +
                                   f.timeout + "'");
    f.pool.task_timeout_ns = spec->ns;
    f.pool.timeout_percent = spec->percent;
  }
  for (auto [text, target, name] : {std::tuple{&f.max_memory, &f.pool.max_memory_per_child, "--max-memory-per-child"},
                                    std::tuple{&f.hard_memory, &f.pool.hard_memory_per_child, "--hard-memory-per-child"}}) {
    if (text->empty()) continue;
    const auto bytes = procpool::parse_bytes(*text);
    if (!bytes) throw supervisor::UsageError(std::string(name) + " must be a size like 512M or 2G, not '" + *text + "'");
    *target = *bytes;
  }
  for (std::string& plugin : f.pool.plugins) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(plugin, ec);
    if (!ec) plugin = absolute.string();  // children must find it whatever their folder
  }
  return f.pool;
}

namespace {

void add_serve_flags(CLI::App* serve, ServeFlags& f) {
  serve->add_option("--socket", f.request.socket_path, "Listen on this Unix socket (mode 0660)")->capture_default_str();
  serve->add_option("--results", f.request.results_path, "Append every result as a JSON line to FILE");
  serve->add_option("--metrics-port", f.request.metrics_port,
                    "Serve Prometheus metrics on http://127.0.0.1:PORT/metrics (default: off)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--log-format", f.request.log_format, "Log lines on stderr as plain text or JSON")
      ->check(CLI::IsMember({"plain", "json"}))
      ->capture_default_str();
  serve->add_option("--log-level", f.request.log_level, "Least severe messages logged")
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "error", "off"}))
      ->capture_default_str();
  serve->add_option("--redis", f.redis_address,
                    "Also take jobs from the Redis Streams queue at HOST:PORT (docs/SCALE_OUT.md)");
  serve->add_option("--queue", f.request.redis.queue, "The Redis queue's name")->capture_default_str();
  serve->add_option("--instance", f.instance, "This host's consumer is HOSTNAME:INSTANCE")->capture_default_str();
  serve->add_option("--lease", f.lease, "SECONDS a silent host keeps its jobs before others take them over")
      ->capture_default_str();
  serve->add_option("--max-workers", f.pool.pool.max_workers,
                    "The most workers a reload (SIGHUP) may raise --workers to (default: 4 x workers, at least 8)")
      ->check(CLI::Range(0u, 1024u));
  serve->add_option("--config", f.config_path,
                    std::string("Settings from this TOML file: [pool], [serve], and each kind's section for its "
                                "options (default: ") + supervisor::kDefaultConfigPath + " if it exists)");
  add_pool_flags(serve, f.pool);
}

// The parsed command line over the config file: what serve runs, and what a reload
// applies. Throws ConfigError (a bad file or kind option) or UsageError.
std::function<std::optional<supervisor::KindSpec>(const std::string&, const KindOptions&)> request_kinds(
    const KindRegistry& registry, const std::vector<supervisor::ConfigSetting>& settings);

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

// submit's options for the kind: its flags given (kinds known here) and -o KEY=VALUE, as
// written; the server (or each Redis host) checks them against its own kinds and config.
KindOptions submit_request_options(const KindRegistry& registry, const std::string& kind, const KindFlags& flags,
                                   const std::vector<std::string>& generic) {
  const KindInfo* info = registry.find(kind);
  const KindSchema schema = info != nullptr ? info->schema() : KindSchema{kind, "", {}, {}};
  flags.check_all_claimed({&schema});
  KindOptions options = flags.given_for(schema);
  for (const std::string& pair : generic) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      throw supervisor::UsageError("-o takes KEY=VALUE, not '" + pair + "'");
    options.set(pair.substr(0, eq), pair.substr(eq + 1));
  }
  return options;
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
      if (spec->scope == OptionScope::Run)
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

}  // namespace

int run(int argc, char** argv, const KindRegistry& builtin) {
  // The kinds of --plugin libraries and of the config file's plugins, before the flags
  // (their options are flags too).
  KindRegistry registry = builtin;
  const bool running = argc >= 2 && std::string_view(argv[1]) == "run";
  const bool submitting = argc >= 2 && std::string_view(argv[1]) == "submit";
  if (running || submitting) {
    try {
      load_plugins(scanned_values(argc, argv, "--plugin"), registry);
      const auto configs = scanned_values(argc, argv, "--config");
      if (running) load_config_plugins(config_path_or_default(configs.empty() ? "" : configs.back()), registry);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "procpool %s: %s\n", argv[1], e.what());
      return 2;
    }
  }
  CLI::App app{"procpool: a crash-isolating multi-process worker pool.\n"
               "A supervisor starts one worker process per usable core and feeds it tasks\n"
               "through shared-memory rings; a worker that dies takes down only itself."};
  app.name("procpool");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("procpool 0.1.0"));

  supervisor::RunRequest request;
  PoolFlags run_pool;
  bool no_progress = false;
  std::string config_path;
  bool example_config = false;
  CLI::App* check = app.add_subcommand(
      "check-config", std::string("Check a config file (default ") + supervisor::kDefaultConfigPath +
                          ") and print the effective configuration, every key with its meaning");
  check->add_option("file", config_path, "The config file");
  check->add_flag("--example", example_config, "Print the example config (every key at its default) instead");

  std::string timeline_results, timeline_out;
  CLI::App* timeline = app.add_subcommand("timeline", "Draw an earlier run from its --results file as SVG.");
  timeline->add_option("results", timeline_results, "The run's results (JSON lines)")->required();
  timeline->add_option("-o,--output", timeline_out, "The SVG file to write")->required();

  ServeFlags serve_flags;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the pool as a service: take tasks from a local socket (procpool submit) until SIGTERM; "
               "SIGHUP reloads the config.");
  add_serve_flags(serve, serve_flags);

  std::string submit_socket = supervisor::kDefaultSocketPath, submit_kind, submit_input_file;
  std::vector<std::string> submit_inputs;
  CLI::App* submit = app.add_subcommand("submit", "Give tasks to a running procpool serve; print each result line.");
  submit->add_option("--socket", submit_socket, "The server's socket")->capture_default_str();
  submit->add_option("kind", submit_kind, "Task kind")->required();
  submit->add_option("inputs", submit_inputs, "Inputs, one task each");
  submit->add_option("--input-file", submit_input_file, "Read more inputs from FILE, one per line (- for stdin)");
  ProducerFlags submit_producer;
  add_producer_flags(submit, submit_producer,
                     "Enqueue on the Redis Streams queue at HOST:PORT instead, for every host serving it");
  std::vector<std::string> submit_plugins, submit_generic;
  submit->add_option("--plugin", submit_plugins, "Know the kinds of the shared library PATH, for their option flags")
      ->allow_extra_args(false);
  submit->add_option("-o,--option", submit_generic,
                     "Give the kind the option KEY=VALUE (repeatable), for kinds not known here; the server checks it")
      ->allow_extra_args(false);
  KindFlags submit_flags;  // the kinds' options travel with the request; the server checks them
  if (submitting) submit_flags.add_to(submit, schemas(registry));

  pid_t status_pid = 0;
  bool status_json = false, status_prometheus = false, status_watch = false;
  CLI::App* status = app.add_subcommand("status", "Show this user's running pools: workers, tasks, totals.");
  status->add_option("--pid", status_pid, "Only the pool whose supervisor has this pid");
  status->add_flag("--json", status_json, "As JSON");
  status->add_flag("--prometheus", status_prometheus, "As Prometheus text metrics");
  status->add_flag("--watch", status_watch, "Redraw every second, as top does");

  CLI::App* run = app.add_subcommand("run", "Run tasks of one KIND over INPUTs, then print a summary.");
  run->add_option("--config", config_path,
                  std::string("Settings from this TOML file; flags given here override it (default: ") +
                      supervisor::kDefaultConfigPath + " if it exists; see 'procpool check-config --example')");
  run->add_option("kind", request.kind, "Task kind (see below)")->required();
  run->add_option("inputs", request.inputs,
                  "Inputs, one task each (thumbnail: image files or folders; sleep: milliseconds)");
  add_pool_flags(run, run_pool);
  run->add_option("--input-file", request.input_file, "Read more inputs from FILE, one per line (- for stdin)");
  run->add_option("--results", request.results_path,
                  "Write one JSON line per result to FILE as results arrive (- for stdout)");
  run->add_flag("--resume", request.resume,
                "With --results FILE: skip inputs already ok in FILE, append the rest (restart a killed run)");
  run->add_option("--timeline", request.timeline_path,
                  "Draw the run as SVG into FILE at the end: a lane per worker, a bar per task "
                  "(also later from a --results file: procpool timeline RESULTS -o FILE)");
  run->add_flag("--no-progress", no_progress, "No progress bar (there is none unless stderr is a terminal)");
  run->add_flag("!--no-summary", request.summary, "No summary on stderr at the end");
  std::string then_kind;
  run->add_option("--then", then_kind,
                  "give each ok result's path to a task of this KIND as soon as it lands, e.g. "
                  "'download --then thumbnail' (thumbnails beside the downloads); flags of options the first "
                  "kind lacks (--size, --quality) go to it, and its config section applies");
  ProducerFlags run_producer;
  add_producer_flags(run, run_producer,
                     "Fan the tasks out over every host serving the Redis Streams queue at HOST:PORT (kind options "
                     "are then the hosts' own)");
  // `run KIND --help` shows that kind's options alone; `run --help` every kind's.
  std::vector<KindSchema> flag_kinds = schemas(registry);
  for (int i = 2; running && i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg != "-h" && arg != "--help") continue;
    for (int j = 2; j < argc; ++j)
      if (const KindInfo* k = registry.find(argv[j])) flag_kinds = {k->schema()};
  }
  KindFlags kind_flags;
  kind_flags.add_to(run, flag_kinds);
  run->footer(kinds_help(registry) +
              "\nsum-squares and wordcount print their combined answer on stdout at the end.\n"
              "\nExit status: 0 all tasks ok, 1 some task not ok, 2 usage error, 128+N after signal N.");

  // `procpool run KIND [INPUT...] -- WORDS...`: the words go to the kind's option that
  // takes them (exec's command), or else are inputs (that may look like flags).
  std::vector<std::string> after_dashes;
  if (running || submitting) {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) != "--") continue;
      after_dashes.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (timeline->parsed()) return supervisor::draw_timeline(timeline_results, timeline_out);
  if (status->parsed())
    return supervisor::show_status(status_pid,
                                   status_json         ? supervisor::StatusFormat::Json
                                   : status_prometheus ? supervisor::StatusFormat::Prometheus
                                                       : supervisor::StatusFormat::Text,
                                   status_watch);
  if (submit->parsed()) {
    if (!submit_input_file.empty()) {
      try {
        auto more = supervisor::read_input_file(submit_input_file);
        submit_inputs.insert(submit_inputs.end(), more.begin(), more.end());
      } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "procpool submit: %s\n", e.what());
        return 2;
      }
    }
    const KindInfo* known = registry.find(submit_kind);
    if (known != nullptr && takes_words(known->schema())) submit_flags.set_after_dashes(after_dashes);
    else submit_inputs.insert(submit_inputs.end(), after_dashes.begin(), after_dashes.end());
    if (submit_inputs.empty()) {
      std::fprintf(stderr, "procpool submit: no inputs\n");
      return 2;
    }
    KindOptions submit_options;
    try {
      submit_options = submit_request_options(registry, submit_kind, submit_flags, submit_generic);
    } catch (const supervisor::UsageError& e) {
      std::fprintf(stderr, "procpool submit: %s\n", e.what());
      return 2;
    }
    if (!submit_producer.address.empty()) {
      return supervisor::redis::produce(submit_producer.resolved(), submit_kind, submit_options, submit_inputs,
                                        [](const std::string& line, const std::string&) {
                                          std::fwrite(line.data(), 1, line.size(), stdout);
                                          std::fputc('\n', stdout);
                                        });
    }
    return supervisor::submit(submit_socket, submit_kind, submit_options, submit_inputs);
  }
  if (serve->parsed()) {
    try {
      supervisor::ServeRequest serve_request = serve_request_from(serve, serve_flags, builtin);
      supervisor::setup_logging(serve_request.log_format, serve_request.log_level);
      // SIGHUP: the same command line again, over the config file as it is now.
      std::vector<std::string> args;  // reversed, as CLI11 takes a vector
      for (int i = argc - 1; i > 0 && std::string_view(argv[i]) != "serve"; --i) args.emplace_back(argv[i]);
      serve_request.reload = [args, &builtin]() {
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
      return supervisor::serve(serve_request);
    } catch (const supervisor::ConfigError& e) {
      std::fprintf(stderr, "procpool serve: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "procpool serve: %s\n", e.what());
      return 1;
    }
  }
  if (check->parsed())
    return check_config(config_path.empty() ? supervisor::kDefaultConfigPath : config_path, example_config, registry);
  std::vector<supervisor::ConfigSetting> settings;
  try {
    settings = effective_config(config_path, registry);
    apply_config(run, settings, false);
  } catch (const supervisor::ConfigError& e) {
    std::fprintf(stderr, "procpool run: %s\n", e.what());
    return 2;
  }
  request.progress = !no_progress;
  try {
    request.pool = pool_options(run_pool);
    load_plugins(request.pool.plugins, registry);
  } catch (const supervisor::UsageError& e) {
    std::fprintf(stderr, "procpool run: %s\nRun 'procpool run --help' for usage.\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "procpool run: %s\n", e.what());
    return 2;
  }
  try {
    const bool remote = !run_producer.address.empty();
    const KindInfo* kind = registry.find(request.kind);
    if (kind == nullptr && !remote) find_kind(registry, request.kind);  // throws, naming the kinds
    const KindSchema schema = kind != nullptr ? kind->schema() : KindSchema{request.kind, "", {}, {}};
    const KindInfo* then = then_kind.empty() ? nullptr : &find_kind(registry, then_kind);
    const KindSchema then_schema = then != nullptr ? then->schema() : KindSchema{};
    std::vector<const KindSchema*> claimants{&schema};
    if (then != nullptr) claimants.push_back(&then_schema);
    if (takes_words(schema)) kind_flags.set_after_dashes(after_dashes);
    else request.inputs.insert(request.inputs.end(), after_dashes.begin(), after_dashes.end());
    kind_flags.check_all_claimed(claimants);  // a kind not known here (remote) has no flags
    const KindOptions flags = kind_flags.given_for(schema);
    for (const auto& [key, value] : flags.values())
      if (schema.find(key)->scope == OptionScope::Task) request.remote_options.set(key, value);
    request.schema = schema;
    request.options = merged(options_from_config(schema, settings), flags);
    if (kind != nullptr) request.options = checked_options(*kind, request.options);
    if (then != nullptr) {
      // Flags go to the first kind; those it does not have, to the second.
      KindOptions then_flags;
      const KindOptions given_then = kind_flags.given_for(then_schema);
      for (const auto& [key, value] : given_then.values())
        if (schema.find(key) == nullptr) then_flags.set(key, value);
      request.then_kind = then_kind;
      request.then_schema = then_schema;
      request.then_options = checked_options(*then, merged(options_from_config(then_schema, settings), then_flags));
    }
    if (remote) return supervisor::redis::run_batch_redis(request, run_producer.resolved());
    return supervisor::run_batch(request);
  } catch (const supervisor::UsageError& e) {
    std::fprintf(stderr, "procpool run: %s\nRun 'procpool run --help' for usage.\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "procpool: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace procpool::cli
