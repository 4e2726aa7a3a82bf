#pragma once
// A task's status: one enum for the rings, the engine, every report and the C++ API
// (procpool::Status is this type). The child reports ok, error, and crashed only for a
// command its task ran that a signal killed (exec); the supervisor decides a worker's
// crash, timeout and cancelled. The values travel in ResultHeader::status and
// index PoolStats::done, so they are dense from 0 and never renumbered.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procpool::ipc {

enum class Status : uint8_t { ok = 0, error = 1, crashed = 2, timeout = 3, cancelled = 4 };
inline constexpr int kStatusCount = 5;

// "ok", "error", "crashed", "timeout", "cancelled": the words of results files and reports.
const char* status_name(Status s);
std::optional<Status> status_from_name(std::string_view name);
// "SIGSEGV", or "signal N" for one without a name: how results and messages name the
// signal that ended a worker or a command.
std::string signal_name(int sig);
// Every status, in order: for loops over counters indexed by status.
inline constexpr Status status_at(int i) { return static_cast<Status>(i); }

}  // namespace procpool::ipc
