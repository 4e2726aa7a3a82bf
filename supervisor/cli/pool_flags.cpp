#include "supervisor/cli/pool_flags.hpp"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "ipc/units.hpp"
#include "supervisor/batch/run.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/engine/usable_cores.hpp"

namespace procpool::cli {

supervisor::redis::ProducerSettings ProducerFlags::resolved() const {
  supervisor::redis::ProducerSettings out = settings;
  out.address = address;
  out.reconnect_ms = static_cast<uint64_t>(reconnect_s * 1000);
  return out;
}

void add_producer_flags(CLI::App* app, ProducerFlags& f, const std::string& redis_help) {
  app->add_option("--redis", f.address, redis_help)->option_text("HOST:PORT")->group(section::kRedis);
  app->add_option("--queue", f.settings.queue, "With --redis: the queue's name")
      ->capture_default_str()
      ->option_text("NAME")
      ->group(section::kRedis);
  app->add_option("--chunk", f.settings.chunk, "With --redis: inputs per queue entry")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str()
      ->option_text("N")
      ->group(section::kRedis);
  app->add_option("--reconnect-for", f.reconnect_s,
                  "With --redis: SECONDS to keep trying to reach a lost Redis before giving up")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->option_text("SECONDS")
      ->group(section::kRedis);
}

namespace {

// GNU parallel's -j forms relative to the usable cores, as a count: "150%", "+1", "-1"
// (at least 1). A plain count stays as it is; anything else is left for the range check.
std::string workers_as_count(std::string& text) {
  if (text.empty()) return "";
  const bool percent = text.back() == '%', relative = text[0] == '+' || text[0] == '-';
  if (!percent && !relative) return "";
  const std::string digits = percent ? text.substr(0, text.size() - 1) : text.substr(1);
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
    return "must be N, N%, +N or -N, not '" + text + "'";
  const long n = std::stol(digits), cores = static_cast<long>(supervisor::usable_cores());
  long count = percent ? cores * n / 100 : text[0] == '+' ? cores + n : cores - n;
  text = std::to_string(std::max(1L, count));
  return "";
}

}  // namespace

void add_pool_flags(CLI::App* app, PoolFlags& f) {
  app->add_option("-j,--workers", f.pool.workers,
                  "Worker processes: N, or as GNU parallel N% of the usable cores, +N or -N of them (default: the "
                  "usable cores: CPU affinity and the cgroup's cpu.max)")
      ->transform(CLI::Validator(workers_as_count, "N|N%|+N|-N"))
      ->check(CLI::Range(1u, 1024u))
      ->option_text("N")
      ->group(section::kPool);
  app->add_option("--max-attempts", f.pool.max_attempts,
                  "Runs of a task that may crash its worker before it is reported crashed (default: 3)")
      ->check(CLI::Range(1u, 100u))
      ->option_text("N")
      ->group(section::kPool);
  app->add_option("--retries", f.pool.retries,
                  "Run a task that ended in error (exec: a non-zero exit, or killed by a signal) again, up to N "
                  "times, as GNU parallel's --retries; what is reported is its last run (default: 0)")
      ->check(CLI::Range(0u, 1000u))
      ->option_text("N")
      ->group(section::kLimits);
  app->add_option("--retry-delay", f.retry_delay, "SECONDS before the first rerun of --retries, doubling for each "
                  "(at most 10 s; default: 0.1)")
      ->check(CLI::Range(0.0, 10.0))
      ->option_text("SECONDS")
      ->group(section::kLimits);
  app->add_option("--timeout", f.timeout,
                  "Kill a task's worker after SECONDS (e.g. 30, 2.5), or after N% of the kind's median run "
                  "time (e.g. 300%, at least 100 ms); the task is reported timeout (default: none)")
      ->option_text("SECONDS|N%")
      ->group(section::kLimits);
  app->add_flag("--retry-timeouts", f.pool.retry_timeouts, "Retry a timed-out task, up to --max-attempts")
      ->group(section::kLimits);
  app->add_option("--max-tasks-per-child", f.pool.max_tasks_per_child,
                  "Replace a worker after N tasks (default: never)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62))
      ->option_text("N")
      ->group(section::kLimits);
  app->add_option("--max-memory-per-child", f.max_memory,
                  "Replace a worker whose RSS is over SIZE (e.g. 512M) once it finishes its tasks (default: never)")
      ->option_text("SIZE")
      ->group(section::kLimits);
  app->add_option("--hard-memory-per-child", f.hard_memory,
                  "Kill a worker whose RSS is over SIZE at once, charging its task "
                  "(default: twice --max-memory-per-child, else half the machine's memory)")
      ->option_text("SIZE")
      ->group(section::kLimits);
  app->add_option("--max-restarts", f.pool.max_restarts,
                  "Stop the run when workers died more than N times within --restart-period "
                  "(default: 20 or twice the workers, whichever is more)")
      ->check(CLI::Range(1u, 1000000u))
      ->option_text("N")
      ->group(section::kLimits);
  app->add_option("--restart-period", f.restart_period, "SECONDS for --max-restarts (default: 10)")
      ->check(CLI::Range(1u, 86400u))
      ->option_text("SECONDS")
      ->group(section::kLimits);
  app->add_option("--containment", f.containment,
                  "What holds each worker and everything its tasks start, killed with it: auto (the first that "
                  "works here), cgroup2, cgroup1 or process-group")
      ->check(CLI::IsMember({"auto", "cgroup2", "cgroup1", "process-group"}))
      ->capture_default_str()
      ->option_text("auto|cgroup2|cgroup1|process-group")
      ->group(section::kPool);
  app->add_option("--max-procs-per-child", f.pool.max_procs_per_child,
                  "Processes and threads a worker and everything it starts may have at once, through the cgroup's "
                  "pids.max: a fork bomb in a task fails that task (default: 1024; not with process-group containment)")
      ->check(CLI::Range(16u, 4194304u))
      ->option_text("N")
      ->group(section::kLimits);
  app->add_option("--plugin", f.pool.plugins, "Load task kinds from the shared library PATH (repeatable)")
      ->allow_extra_args(false)
      ->option_text("PATH")
      ->group(section::kPool);  // one PATH per --plugin; what follows is an input
}

supervisor::PoolOptions pool_options(PoolFlags f) {
  f.pool.restart_period_ns = uint64_t{f.restart_period} * 1'000'000'000ull;
  f.pool.retry_delay_ns = static_cast<uint64_t>(f.retry_delay * 1e9);
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
  f.pool.containment = supervisor::containment_from_name(f.containment).value_or(supervisor::ContainmentMode::Auto);
  for (std::string& plugin : f.pool.plugins) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(plugin, ec);
    if (!ec) plugin = absolute.string();  // children must find it whatever their folder
  }
  return f.pool;
}

}  // namespace procpool::cli
