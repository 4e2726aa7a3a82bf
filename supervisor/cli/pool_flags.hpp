#pragma once
// Flag sets more than one subcommand has: the pool's own (run, serve and the config's
// [pool]) and a Redis producer's (submit --redis, run --redis).
#include <CLI/CLI.hpp>
#include <string>

#include "supervisor/engine/supervisor.hpp"
#include "supervisor/redis/producer.hpp"

namespace procpool::cli {

struct PoolFlags {
  supervisor::PoolOptions pool;
  std::string timeout, max_memory, hard_memory;  // kept as text, checked by pool_options()
  std::string containment = "auto";
  unsigned restart_period = 10;
  double retry_delay = 0.1;
};

struct ProducerFlags {
  supervisor::redis::ProducerSettings settings;
  std::string address;
  double reconnect_s = 60;
  supervisor::redis::ProducerSettings resolved() const;
};

void add_pool_flags(CLI::App* app, PoolFlags& f);
void add_producer_flags(CLI::App* app, ProducerFlags& f, const std::string& redis_help);
// The flags kept as text, checked and converted; throws UsageError.
supervisor::PoolOptions pool_options(PoolFlags f);

}  // namespace procpool::cli
