#pragma once
// What a task kind implements, and the registry children look kinds up in.
//
// A kind is registered by name with a factory, its options' schema and its run-side
// hooks (ipc/kind_schema.hpp): everything the front ends know of it comes from there.
// The factory receives the options checked against the schema (canonical, defaults
// filled in) and checks what the schema cannot (throwing std::invalid_argument with a
// message that names the option); it must be cheap, because the front ends call it to
// reject bad options before any child starts. Expensive set-up belongs in
// TaskKind::start(), which runs once in each child.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/kind_options.hpp"
#include "ipc/kind_schema.hpp"

namespace procpool {

// What a task hands back: ok with output bytes, or an error message.
struct TaskOutput {
  bool ok = true;
  bool output_is_json = false;  // output holds exactly one JSON value
  std::string data;             // output when ok, error message otherwise
  // A command the task ran (exec): its exit status (-1 if it did not exit or none ran) and
  // the signal that killed it (0 if none). They reach the result as exit_code and signal.
  int exit_code = -1;
  int signal = 0;

  void fail(std::string message) {
    ok = false;
    output_is_json = false;
    data = std::move(message);
  }
};

// Which task a kind is running, for the kinds that name it (exec's {#} and {%}, its spool
// files). Set by the worker before each run() and begin(); read it during the call.
struct TaskContext {
  uint64_t task_id = 0;  // 0, 1, 2, ... in the order the pool's tasks were submitted
  uint32_t attempt = 1;  // 1 on the first run, more after a crash or timeout
  uint32_t slot = 0;     // the worker's slot: 0 .. workers-1
};
const TaskContext& current_task();
void set_current_task(const TaskContext& context);  // the worker's

class TaskKind {
 public:
  virtual ~TaskKind() = default;
  // How many tasks of this kind one child runs at once (1 for CPU-bound kinds).
  virtual uint32_t concurrency() const { return 1; }
  // Once per child, before the first task. Throwing makes the child unable to start.
  virtual void start() {}
  // Runs one task. An exception derived from std::exception becomes an error result.
  virtual void run(std::string_view input, TaskOutput& out) = 0;
  // Runs the inputs of a chunk (ipc/chunk.hpp's form) in order and appends each one's
  // output to outputs in that form; false if the chunk is malformed. The default calls
  // run() for each; a kind may do better in one go (procpool/task.hpp's typed tasks do:
  // no TaskOutput and string per input).
  virtual bool run_chunk(std::string_view chunk, std::string& outputs);
};

// kind.run(input, out) on a reset out, an exception turned into out.fail(): one task as
// a worker runs it.
void run_task(TaskKind& kind, std::string_view input, TaskOutput& out);

// A kind whose tasks mostly wait (on the network, on timers): one child runs up to
// concurrency() of them at once on its own event loop, as asyncio would, instead of one
// task per process. The worker hands each task it takes to begin(), then calls poll()
// while any is running. Tasks of the kind share the child: a crash of the child charges
// every task it was running (see DESIGN.md), so a kind should fail a task, not the child.
class AsyncTaskKind : public TaskKind {
 public:
  // Reports a finished task: its token from begin() and its outcome.
  using Finished = std::function<void(uint64_t token, TaskOutput& out)>;
  // Starts a task without blocking. Throwing fails that task only.
  virtual void begin(uint64_t token, std::string input) = 0;
  // Drives the running tasks: waits until one can progress, until wake_fd (when >= 0)
  // is readable, or for timeout_ms at most; then calls finished() for each task done.
  virtual void poll(int wake_fd, int timeout_ms, const Finished& finished) = 0;
  // Tasks begun and not yet reported finished.
  virtual std::size_t running() const = 0;
  // One task on its own (initializers, chunks): begin, then poll until it is done.
  void run(std::string_view input, TaskOutput& out) final;
};

struct KindInfo {
  std::string name;
  std::string summary;  // one line, for --help
  std::function<std::unique_ptr<TaskKind>(const KindOptions&)> make;
  std::vector<OptionSpec> options = {};
  KindHooks hooks = {};

  // What the front ends see of the kind.
  KindSchema schema() const { return {name, summary, options, hooks}; }
  // The given options checked against the schema and by the factory; their canonical form
  // (what the workers get). Throws std::invalid_argument naming the option.
  KindOptions check(const KindOptions& given) const;
  // The given options checked, then the kind made from them.
  std::unique_ptr<TaskKind> create(const KindOptions& given) const;
};

class KindRegistry {
 public:
  // A second kind of the same name, or an option that is a flag in one kind and takes a
  // value in another (the command line has one --NAME for both), is a logic_error.
  void add(KindInfo info);
  const KindInfo* find(std::string_view name) const;
  std::vector<const KindInfo*> all() const;

 private:
  std::vector<KindInfo> kinds_;
};

// Adds noop, sleep, thumbnail, sum-squares, wordcount and exec.
void register_builtin_kinds(KindRegistry& registry);

// A plugin is a shared library that defines its kinds with this macro:
//
//   PROCPOOL_PLUGIN(registry) {
//     registry.add({"resize", "...", [](const procpool::KindOptions& o) { ... },
//                   {procpool::opt::integer("width", "640", 1, 16384, "target width")}});
//   }
//
// Its options are then flags of `procpool run`, keys of a [resize] config section and
// options of serve and Redis requests, like those of the built-in kinds.
//
// It is loaded with --plugin PATH (or PoolOptions::plugins) in every child, and in the
// command line to check kinds and options before a pool starts. Its symbols from this
// header resolve against the executable that loads it (built with ENABLE_EXPORTS).
#define PROCPOOL_PLUGIN(registry) \
  extern "C" void procpool_plugin_register(::procpool::KindRegistry& registry)  // NOLINT(bugprone-macro-parentheses): names a parameter
inline constexpr const char* kPluginEntryPoint = "procpool_plugin_register";

}  // namespace procpool
