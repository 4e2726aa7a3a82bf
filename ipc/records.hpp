#pragma once
// The byte formats of the records that travel through a slot's rings. Encoders append to
// a small fixed header and hand header + body to RingProducer::try_write; decoders
// validate every length and enum before anything is used, because a record from a child
// is untrusted input (a buggy, hostile or half-dead child).
//
// supervisor -> child:  LoadPlugin, DefineKind, Task, Stop
// child -> supervisor:  Ready, Result, Fatal
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/status.hpp"

namespace procpool::ipc {

enum class RecordType : uint8_t {
  DefineKind = 1,  // a task kind the child must load: id, name, options
  Task = 2,        // one task to run
  Stop = 3,        // finish what you hold and exit 0
  LoadPlugin = 4,  // a plugin path to load before the kinds are defined
  Initialize = 5,  // run this kind once with this input before any task (an initializer)
  Ready = 16,      // the child loaded every kind: their concurrencies
  Result = 17,     // one task's outcome
  Fatal = 18,      // the child cannot work (bad kind, bad options): a message, then exit
};


inline constexpr uint8_t kResultOutputIsJson = 1;    // output bytes are one JSON value
inline constexpr uint8_t kResultCpuNotMeasured = 2;  // cpu_ns is 0: the task was too short to measure

inline constexpr uint16_t kTaskChunk = 1;  // input holds many inputs; see encode_chunk()

struct TaskHeader {
  uint8_t type;  // RecordType::Task
  uint8_t kind;  // index of a DefineKind sent earlier
  uint16_t flags;  // kTaskChunk
  uint32_t attempt;
  uint64_t task_id;
};
static_assert(sizeof(TaskHeader) == 16 && std::is_trivially_copyable_v<TaskHeader>);

struct ResultHeader {
  uint8_t type;    // RecordType::Result
  uint8_t status;  // Status::ok, Status::error, or Status::crashed with the signal that killed the task's
                   // command (exec): a worker's own crash is the supervisor's to see, never sent
  uint8_t flags;   // kResultOutputIsJson
  uint8_t reserved;
  uint32_t attempt;
  uint64_t task_id;
  uint64_t start_ns;  // CLOCK_MONOTONIC
  uint64_t end_ns;
  uint64_t cpu_ns;      // CPU time the child spent on the task (see kResultCpuNotMeasured)
  uint64_t max_rss_kb;  // the child's peak RSS after the task
  // How a command the task ran ended (exec): its exit status (-1: it did not exit, or the
  // task ran none) and the signal that killed it (0: none).
  int32_t exit_code;
  int32_t signal;
};
static_assert(sizeof(ResultHeader) == 56 && std::is_trivially_copyable_v<ResultHeader>);

struct KindDefinition {
  uint8_t id;
  std::string name;
  std::string options;  // "key=value" lines
};

// Peeks at the type byte; nullopt for an empty record.
std::optional<RecordType> record_type(std::string_view record);

std::string encode_define_kind(const KindDefinition& def);
std::optional<KindDefinition> decode_define_kind(std::string_view record);

std::string encode_ready(const std::vector<uint32_t>& concurrency);
std::optional<std::vector<uint32_t>> decode_ready(std::string_view record);

std::string encode_load_plugin(std::string_view path);
std::optional<std::string_view> decode_load_plugin(std::string_view record);

// Initialize: [type][kind][input...]
std::string encode_initialize(uint8_t kind, std::string_view input);

std::string encode_fatal(std::string_view message);
std::optional<std::string_view> decode_fatal(std::string_view record);

inline constexpr uint8_t kStopRecord = static_cast<uint8_t>(RecordType::Stop);

// A decoded task or result: the header plus a view of the body inside the ring.
struct TaskView {
  TaskHeader header;
  std::string_view input;
};
std::optional<TaskView> decode_task(std::string_view record);

struct ResultView {
  ResultHeader header;
  std::string_view output;  // output when ok, error text otherwise
};
std::optional<ResultView> decode_result(std::string_view record);

}  // namespace procpool::ipc
