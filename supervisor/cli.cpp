#include "supervisor/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <tuple>

#include "child/kinds/http_limits.hpp"
#include "child/kinds/http_loader.hpp"
#include "child/kinds/media_types.hpp"
#include "child/plugin_loader.hpp"
#include "supervisor/config.hpp"
#include "supervisor/intake.hpp"
#include "supervisor/links.hpp"
#include "supervisor/log.hpp"
#include "supervisor/redis/fan_out.hpp"
#include "supervisor/redis/producer.hpp"
#include "supervisor/serve.hpp"
#include "supervisor/status.hpp"
#include "supervisor/run_command.hpp"
#include "supervisor/units.hpp"
#include "supervisor/usable_cores.hpp"

namespace procpool::cli {

namespace {

std::string kinds_help(const KindRegistry& registry) {
  std::string out = "Task kinds:\n";
  for (const KindInfo* k : registry.all()) {
    out += "  " + k->name + std::string(k->name.size() < 12 ? 12 - k->name.size() : 1, ' ') + k->summary + "\n";
  }
  return out;
}

supervisor::KindValidator validator(const KindRegistry& registry) {
  return [&registry](const std::string& kind, const KindOptions& options) {
    const KindInfo* info = registry.find(kind);
    if (info == nullptr) {
      std::string names;
      for (const KindInfo* k : registry.all()) names += (names.empty() ? "" : ", ") + k->name;
      throw supervisor::UsageError("unknown task kind '" + kind + "' (kinds: " + names + ")");
    }
    try {
      info->make(options);
    } catch (const std::invalid_argument& e) {
      throw supervisor::UsageError(e.what());
    }
  };
}

// The download kind's flags, kept as given until they are checked and become options.
struct DownloadFlags {
  std::vector<std::string> headers;
  std::string accept, connect_timeout, max_time, stall_timeout, max_size, retry_max_wait;
  std::string max_redirects, retries, concurrency;
  bool overwrite = false;
};

void add_download_flags(CLI::App* run, DownloadFlags& f) {
  run->add_option("--header", f.headers,
                  "download: send 'Name: value' (repeatable); ${VAR} is replaced by the environment "
                  "variable VAR, e.g. 'Authorization: Client-ID ${IMGUR_CLIENT_ID}'")
      ->allow_extra_args(false);
  run->add_option("--accept", f.accept,
                  "download: keep only these content types, e.g. image/jpeg,image/png or image/* "
                  "(others are an error naming the type; default: any)");
  run->add_option("--connect-timeout", f.connect_timeout, "download: SECONDS to connect (default 10)");
  run->add_option("--max-time", f.max_time, "download: SECONDS for one attempt of a transfer (default 300)");
  run->add_option("--stall-timeout", f.stall_timeout,
                  "download: give up an attempt after SECONDS without a byte (default 30)");
  run->add_option("--max-size", f.max_size, "download: largest body, e.g. 50M (default 1G)");
  run->add_option("--max-redirects", f.max_redirects, "download: redirects to follow (default 10)");
  run->add_option("--retries", f.retries,
                  "download: retries after a connection error, a stall, 408, 429 or 5xx, with "
                  "exponential backoff or the server's Retry-After (default 3)");
  run->add_option("--retry-max-wait", f.retry_max_wait, "download: longest wait before a retry, SECONDS (default 60)");
  run->add_option("--concurrency", f.concurrency, "download: transfers in flight per worker (default 32)");
  run->add_flag("--overwrite", f.overwrite,
                "download, thumbnail: replace existing files (default: download picks a new name, "
                "NAME-1.EXT, ...; thumbnail leaves the file and reports the task an error)");
}

// Replaces ${VAR} by the environment's value; a variable that is not set is an error.
std::string expand_environment(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string::npos) throw supervisor::UsageError("unclosed ${ in header '" + text + "'");
    const std::string name = text.substr(i + 2, close - i - 2);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) throw supervisor::UsageError("header uses ${" + name + "}, which is not set");
    out += value;
    i = close;
  }
  return out;
}

void apply_download_flags(const DownloadFlags& f, KindOptions& options) {
  if (!f.headers.empty()) {
    nlohmann::json headers = nlohmann::json::array();
    for (const std::string& h : f.headers) headers.push_back(expand_environment(h));
    options.set("headers", headers.dump());
  }
  if (!f.accept.empty()) options.set("accept", f.accept);
  for (auto [text, key, flag] : {std::tuple{&f.connect_timeout, "connect-timeout", "--connect-timeout"},
                                 std::tuple{&f.max_time, "max-time", "--max-time"},
                                 std::tuple{&f.retry_max_wait, "retry-max-wait", "--retry-max-wait"},
                                 std::tuple{&f.stall_timeout, "stall-timeout", "--stall-timeout"}}) {
    if (text->empty()) continue;
    const auto spec = supervisor::parse_timeout(*text);
    if (!spec || spec->percent != 0)
      throw supervisor::UsageError(std::string(flag) + " must be SECONDS (e.g. 10 or 2.5), not '" + *text + "'");
    const uint64_t ms = spec->ns / 1'000'000;
    // stall-timeout is whole seconds (libcurl's low-speed time); the others milliseconds
    options.set(key, std::to_string(std::string(key) == "stall-timeout" ? std::max<uint64_t>(1, (ms + 999) / 1000) : ms));
  }
  if (!f.max_size.empty()) {
    const auto bytes = supervisor::parse_bytes(f.max_size);
    if (!bytes) throw supervisor::UsageError("--max-size must be a size like 50M or 2G, not '" + f.max_size + "'");
    options.set("max-size", std::to_string(*bytes));
  }
  if (!f.max_redirects.empty()) options.set("max-redirects", f.max_redirects);
  if (!f.retries.empty()) options.set("retries", f.retries);
  if (!f.concurrency.empty()) options.set("concurrency", f.concurrency);
  if (f.overwrite) options.set("overwrite", "yes");
}

struct PipelineFlags {
  std::string links_from, then;
  supervisor::LinkQuery query;
};

void add_pipeline_flags(CLI::App* run, PipelineFlags& f) {
  run->add_option("--links-from", f.links_from,
                  "download: fetch the JSON listing at URL first (with --header) and download its links, "
                  "e.g. an Imgur gallery's https://api.imgur.com/3/gallery/ID");
  run->add_option("--links-path", f.query.path, "download: where the listing's links are (default data[].link)");
  run->add_option("--links-type-field", f.query.type_field,
                  "download: the field beside each link naming its type, checked against --accept (default type)");
  run->add_option("--then", f.then,
                  "give each ok result's path to a task of this KIND as soon as it lands, e.g. "
                  "'download --then thumbnail' (thumbnails beside the downloads; --size and --quality apply)");
}

// --links-from: the listing's links become inputs, fetched with the download's limits and
// headers (the listing of an API usually needs the same Authorization).
void add_listed_links(const PipelineFlags& f, supervisor::RunRequest& request) {
  if (f.links_from.empty()) return;
  if (request.kind != "download") throw supervisor::UsageError("--links-from applies to download only");
  kinds::HttpLimits limits;
  try {
    limits = kinds::http_limits_from(request.options);
  } catch (const std::invalid_argument& e) {
    throw supervisor::UsageError(e.what());
  }
  limits.max_bytes = std::min<int64_t>(limits.max_bytes, int64_t{64} << 20);  // a listing, not a video
  std::string body;
  const std::string error = kinds::http_api().fetch_to_memory(f.links_from, limits, &body);
  if (!error.empty()) throw std::runtime_error("cannot fetch the listing " + f.links_from + ": " + error);
  supervisor::LinkQuery query = f.query;
  query.accept = kinds::split_list(request.options.get("accept", ""));
  supervisor::Links links;
  try {
    links = supervisor::extract_links(body, query);
  } catch (const std::invalid_argument& e) {
    throw supervisor::UsageError(e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(f.links_from + ": " + e.what());
  }
  std::fprintf(stderr, "procpool: %zu links in the listing", links.urls.size());
  if (links.filtered != 0) std::fprintf(stderr, ", %zu of other types skipped", links.filtered);
  if (links.invalid != 0) std::fprintf(stderr, ", %zu that are not strings skipped", links.invalid);
  std::fprintf(stderr, "\n");
  request.inputs.insert(request.inputs.end(), links.urls.begin(), links.urls.end());
}

// The config file's settings become the flags the command line did not give: through
// CLI11 itself, so they get the same conversions and range checks (and errors name the
// file, line and column). [pool] always; a kind's section when that kind runs; of the
// --then kind's section, its size and quality.
void apply_config(CLI::App* run, const std::vector<supervisor::ConfigSetting>& settings, const std::string& kind,
                  const std::string& then_kind) {
  for (const supervisor::ConfigSetting& s : settings) {
    const bool applies = s.section == "pool" || s.section == kind || (kind == "serve" && s.section == "redis") ||
                         (s.section == then_kind && (s.key == "size" || s.key == "quality"));
    if (!applies) continue;
    CLI::Option* option = run->get_option_no_throw(s.section == "redis" && s.key == "address" ? "--redis" : "--" + s.key);
    if (option == nullptr || option->count() != 0) continue;  // unknown here, or given on the command line
    try {
      for (const std::string& v : s.values) option->add_result(v);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw supervisor::ConfigError(s.where + ": key '" + s.key + "' in [" + s.section + "]: " + e.what());
    }
  }
}

// serve defines every kind at once, each with the options of its config section (the
// command line has one --out for one kind; a service has them all).
KindOptions serve_kind_options(const std::vector<supervisor::ConfigSetting>& settings, const std::string& kind) {
  KindOptions options;
  DownloadFlags download;
  for (const supervisor::ConfigSetting& s : settings) {
    if (s.section != kind) continue;
    const std::string& v = s.values.front();
    if (kind == "thumbnail" || s.key == "out") {
      options.set(s.key, v);
    } else if (kind == "download") {
      if (s.key == "header") download.headers = s.values;
      if (s.key == "accept") download.accept = v;
      if (s.key == "connect-timeout") download.connect_timeout = v;
      if (s.key == "max-time") download.max_time = v;
      if (s.key == "stall-timeout") download.stall_timeout = v;
      if (s.key == "max-size") download.max_size = v;
      if (s.key == "retry-max-wait") download.retry_max_wait = v;
      if (s.key == "max-redirects") download.max_redirects = v;
      if (s.key == "retries") download.retries = v;
      if (s.key == "concurrency") download.concurrency = v;
      if (s.key == "overwrite") download.overwrite = v == "true";
    }
  }
  if (kind == "download") apply_download_flags(download, options);
  return options;
}

// The given config file, else the default one if it exists, else none.
std::vector<supervisor::ConfigSetting> effective_config(const std::string& given) {
  std::error_code ec;
  if (!given.empty()) return supervisor::load_config(given);
  if (std::filesystem::exists(supervisor::kDefaultConfigPath, ec)) return supervisor::load_config(supervisor::kDefaultConfigPath);
  return {};
}

int check_config(const std::string& path, bool example) {
  if (example) {
    std::fputs(supervisor::describe_config({}).c_str(), stdout);
    return 0;
  }
  try {
    const auto settings = supervisor::load_config(path);
    std::fputs(supervisor::describe_config(settings).c_str(), stdout);
    std::fprintf(stderr, "procpool: %s: ok (%zu settings)\n", path.c_str(), settings.size());
    return 0;
  } catch (const supervisor::ConfigError& e) {
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
    const auto spec = supervisor::parse_timeout(f.timeout);
    if (!spec)
      throw supervisor::UsageError("--timeout must be SECONDS (0.001 to 2592000) or a percentage like 300%, not '" +
                                   f.timeout + "'");
    f.pool.task_timeout_ns = spec->ns;
    f.pool.timeout_percent = spec->percent;
  }
  for (auto [text, target, name] : {std::tuple{&f.max_memory, &f.pool.max_memory_per_child, "--max-memory-per-child"},
                                    std::tuple{&f.hard_memory, &f.pool.hard_memory_per_child, "--hard-memory-per-child"}}) {
    if (text->empty()) continue;
    const auto bytes = supervisor::parse_bytes(*text);
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
supervisor::ServeRequest serve_request_from(CLI::App* serve, ServeFlags& f, const KindRegistry& builtin) {
  KindRegistry registry = builtin;
  const auto settings = effective_config(f.config_path);
  apply_config(serve, settings, "serve", "");
  supervisor::ServeRequest request = f.request;
  request.pool = pool_options(f.pool);
  const unsigned workers = request.pool.workers != 0 ? request.pool.workers : supervisor::usable_cores();
  if (!f.redis_address.empty()) {
    request.use_redis = true;
    request.redis.address = f.redis_address;
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    request.redis.consumer = std::string(host) + ":" + f.instance;
    const auto lease = supervisor::parse_timeout(f.lease);
    if (!lease || lease->percent != 0 || lease->ns < 300'000'000ull)
      throw supervisor::UsageError("--lease must be SECONDS, at least 0.3, not '" + f.lease + "'");
    request.redis.lease_ms = lease->ns / 1'000'000;
    // A little ahead of the pool, not the whole queue: other hosts get their share.
    request.redis.max_entries = std::max(2u, 2 * workers);
  }
  if (request.pool.max_workers == 0)
    request.pool.max_workers = std::min(1024u, std::max(8u, 4 * workers));
  for (const std::string& plugin : request.pool.plugins) load_plugin(plugin, registry);
  for (const KindInfo* kind : registry.all()) {
    const KindOptions options = serve_kind_options(settings, kind->name);
    const bool configured = std::any_of(settings.begin(), settings.end(),
                                        [&](const supervisor::ConfigSetting& s) { return s.section == kind->name; });
    try {
      kind->make(options);
    } catch (const std::invalid_argument& e) {
      // A kind that needs options nobody gave (exec needs a command) is left out; one
      // whose configured options are wrong is an error.
      if (!configured) continue;
      throw supervisor::ConfigError("[" + kind->name + "]: " + e.what());
    }
    request.kinds.push_back({kind->name, options.encode()});
  }
  return request;
}

}  // namespace

int run(int argc, char** argv, const KindRegistry& builtin) {
  KindRegistry registry = builtin;  // plus the kinds of --plugin libraries
  CLI::App app{"procpool: a crash-isolating multi-process worker pool.\n"
               "A supervisor starts one worker process per usable core and feeds it tasks\n"
               "through shared-memory rings; a worker that dies takes down only itself."};
  app.name("procpool");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("procpool 0.1.0"));

  supervisor::RunRequest request;
  std::string size, out_dir, quality;
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
  run->add_option("--size", size, "thumbnail: fit within WIDTHxHEIGHT (default 128x128)");
  run->add_option("--out", out_dir,
                  "thumbnail: write into folder DIR (default: beside each image); download: save into DIR "
                  "(created if missing; default: the current folder)");
  run->add_option("--quality", quality, "thumbnail: JPEG/WebP quality 1-100 (default 75)");
  run->add_option("--n", request.range_n, "sum-squares: sum i*i for i in [0, N), split into --chunks tasks")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  run->add_option("--chunks", request.chunks, "sum-squares: how many tasks --n is split into (default 8 per worker)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 24));
  DownloadFlags download;
  add_download_flags(run, download);
  PipelineFlags pipeline;
  add_pipeline_flags(run, pipeline);
  ProducerFlags run_producer;
  add_producer_flags(run, run_producer,
                     "Fan the tasks out over every host serving the Redis Streams queue at HOST:PORT (kind options "
                     "are then the hosts' own)");
  run->add_option("--top", request.top, "wordcount: print the N most frequent words (default 10)")
      ->check(CLI::Range(0u, 1000000u));
  run->footer(kinds_help(registry) +
              "\nsum-squares and wordcount print their combined answer on stdout at the end.\n"
              "\nExit status: 0 all tasks ok, 1 some task not ok, 2 usage error, 128+N after signal N.");

  // `procpool run exec [INPUT...] -- COMMAND...`: what follows "--" is the command, not inputs.
  std::vector<std::string> command;
  if (argc >= 3 && std::string(argv[1]) == "run" && std::string(argv[2]) == "exec") {
    for (int i = 3; i < argc; ++i) {
      if (std::string(argv[i]) != "--") continue;
      command.assign(argv + i + 1, argv + argc);
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
    if (submit_inputs.empty()) {
      std::fprintf(stderr, "procpool submit: no inputs\n");
      return 2;
    }
    if (!submit_producer.address.empty()) {
      return supervisor::redis::produce(submit_producer.resolved(), submit_kind, submit_inputs, [](const std::string& line, const std::string&) {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      });
    }
    return supervisor::submit(submit_socket, submit_kind, submit_inputs);
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
  if (check->parsed()) return check_config(config_path.empty() ? supervisor::kDefaultConfigPath : config_path, example_config);
  try {
    apply_config(run, effective_config(config_path), request.kind, pipeline.then);
  } catch (const supervisor::ConfigError& e) {
    std::fprintf(stderr, "procpool run: %s\n", e.what());
    return 2;
  }

  if (!command.empty()) request.options.set("command", nlohmann::json(command).dump());
  if (!size.empty()) request.options.set("size", size);
  if (!out_dir.empty()) request.options.set("out", out_dir);
  if (!quality.empty()) request.options.set("quality", quality);
  request.progress = !no_progress;
  try {
    request.pool = pool_options(run_pool);
    for (const std::string& plugin : request.pool.plugins) load_plugin(plugin, registry);
  } catch (const supervisor::UsageError& e) {
    std::fprintf(stderr, "procpool run: %s\nRun 'procpool run --help' for usage.\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "procpool run: %s\n", e.what());
    return 2;
  }
  try {
    apply_download_flags(download, request.options);
    if (!pipeline.then.empty()) {
      request.then_kind = pipeline.then;
      if (!size.empty()) request.then_options.set("size", size);
      if (!quality.empty()) request.then_options.set("quality", quality);
      if (download.overwrite) request.then_options.set("overwrite", "yes");
    }
    add_listed_links(pipeline, request);
    if (!run_producer.address.empty())  // the hosts know their kinds: nothing to validate here
      return supervisor::redis::run_batch_redis(request, run_producer.resolved());
    return supervisor::run_batch(request, validator(registry));
  } catch (const supervisor::UsageError& e) {
    std::fprintf(stderr, "procpool run: %s\nRun 'procpool run --help' for usage.\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "procpool: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace procpool::cli
