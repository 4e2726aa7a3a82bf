#pragma once
// `procpool serve`: the pool as a long-running service. Other programs hand it tasks over
// a local Unix socket with a line-delimited JSON protocol (docs/PROTOCOL.md); `procpool
// submit` is its client. Runs until SIGINT/SIGTERM, which drain it as they drain `run`.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/engine/supervisor.hpp"
#include "supervisor/redis/host.hpp"

namespace procpool::supervisor {

inline constexpr const char* kDefaultSocketPath = "/run/procpool/procpool.sock";

struct ServeRequest {
  std::string socket_path = kDefaultSocketPath;
  std::string results_path;       // every result as a JSON line, whoever submitted it
  PoolOptions pool;
  std::vector<KindSpec> kinds;    // the kinds clients may submit as they are
  // Options a request brings (a client's, a Redis entry's) for a kind: the kind to define
  // for them (its name, and the options its workers get, laid over the host's config),
  // or nullopt for a kind the host does not know; throws std::invalid_argument to refuse
  // them. Set by the entry point, which knows the kinds. Empty: requests take no options.
  std::function<std::optional<KindSpec>(const std::string& kind, const KindOptions& requested)> request_kind;
  std::size_t max_request_bytes = 1 << 20;  // a longer line is refused and its connection closed
  std::size_t max_clients = 256;
  int metrics_port = 0;           // Prometheus metrics on http://127.0.0.1:PORT/metrics; 0: off
  std::string log_format = "plain";  // see supervisor/observe/log.hpp
  std::string log_level = "info";
  // Also a host of a Redis Streams queue (docs/SCALE_OUT.md), beside the socket.
  bool use_redis = false;
  redis::HostSettings redis;
  // SIGHUP: builds the request anew from the config file (throws on a bad one). The pool
  // takes its workers, limits and kind options; the results file is reopened (log
  // rotation); a new socket or metrics port needs a restart. Empty: SIGHUP is ignored.
  std::function<ServeRequest()> reload;
};

// Returns the exit status: 0 after a signal drained it, 1 if the pool failed.
int serve(const ServeRequest& request);

// `procpool submit`: sends the inputs as tasks of `kind`, prints each result line as it
// arrives. Exit status as `run`: 0 all ok, 1 any not, 2 when the server cannot be reached
// or refuses the request.
// options: the kind's, as given (the server checks them).
int submit(const std::string& socket_path, const std::string& kind, const KindOptions& options,
           const std::vector<std::string>& inputs);

}  // namespace procpool::supervisor
