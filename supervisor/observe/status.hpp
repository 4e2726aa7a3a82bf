#pragma once
// `procpool status`: a running pool (run or serve) of this user, seen through its shared
// segment, mapped read-only: per worker slot its pid, generation, state, current task and
// for how long, tasks done, busy share, RSS and restarts; the pool's totals. Never
// disturbs the pool.
#include <sys/types.h>

#include <string>

namespace procpool::supervisor {

enum class StatusFormat { Text, Json, Prometheus };

// pid 0: every running pool of this user. watch: redraw every second until interrupted.
// Returns 0, or 1 when there is no such pool.
int show_status(pid_t pid, StatusFormat format, bool watch);

// The Prometheus metrics of one pool, from its segment (serve's metrics endpoint).
std::string prometheus_metrics(const std::string& segment_name, pid_t pid);

}  // namespace procpool::supervisor
