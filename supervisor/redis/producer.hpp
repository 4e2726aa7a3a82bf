#pragma once
// `procpool submit --redis`: a producer of a Redis Streams queue (docs/SCALE_OUT.md). It
// adds the inputs as entries of `chunk` tasks each, then reads its own reply stream until
// every job has its one result, printing a result line per input as `submit` does.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ipc/kind_options.hpp"

namespace procpool::supervisor::redis {

struct ProducerSettings {
  std::string address = "127.0.0.1:6379";
  std::string queue = "default";
  std::size_t chunk = 100;  // inputs per entry
  uint64_t reconnect_ms = 60'000;  // how long a lost Redis is tried again before giving up
};

// Exit status as `submit`: 0 all ok, 1 any not, 2 Redis unreachable (for reconnect_ms). print: one result
// line (JSON) per input, and the consumer name of the host that answered it.
// options: the kind's, as given, carried by every entry (the hosts check them).
int produce(const ProducerSettings& settings, const std::string& kind, const KindOptions& options,
            const std::vector<std::string>& inputs,
            const std::function<void(const std::string& line, const std::string& host)>& print);

}  // namespace procpool::supervisor::redis
