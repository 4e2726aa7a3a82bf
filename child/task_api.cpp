#include "child/task_api.hpp"

#include <stdexcept>

#include "ipc/chunk.hpp"
#include "ipc/records.hpp"

namespace procpool {

namespace {
TaskContext g_current_task;  // a worker runs its tasks on one thread
}  // namespace

const TaskContext& current_task() { return g_current_task; }
void set_current_task(const TaskContext& context) { g_current_task = context; }

KindOptions KindInfo::check(const KindOptions& given) const {
  KindOptions options = schema().checked(given);
  (void)make(options);
  return options;
}

std::unique_ptr<TaskKind> KindInfo::create(const KindOptions& given) const {
  return make(schema().checked(given));
}

void KindRegistry::add(KindInfo info) {
  if (find(info.name) != nullptr) throw std::logic_error("task kind registered twice: " + info.name);
  for (const OptionSpec& mine : info.options)
    for (const KindInfo& other : kinds_)
      for (const OptionSpec& theirs : other.options)
        if (mine.name == theirs.name && mine.takes_value() != theirs.takes_value())
          throw std::logic_error("option '" + mine.name + "' of kind " + info.name + " takes " +
                                 (mine.takes_value() ? "a value" : "none") + ", as kind " + other.name +
                                 "'s does not: one --" + mine.name + " flag cannot serve both");
  kinds_.push_back(std::move(info));
}

const KindInfo* KindRegistry::find(std::string_view name) const {
  for (const auto& kind : kinds_)
    if (kind.name == name) return &kind;
  return nullptr;
}

std::vector<const KindInfo*> KindRegistry::all() const {
  std::vector<const KindInfo*> out;
  for (const auto& kind : kinds_) out.push_back(&kind);
  return out;
}

void run_task(TaskKind& kind, std::string_view input, TaskOutput& out) {
  out.ok = true;
  out.output_is_json = false;
  out.data.clear();
  out.exit_code = -1;
  out.signal = 0;
  try {
    kind.run(input, out);
  } catch (const std::exception& e) {
    out.fail(e.what());
  } catch (...) {
    out.fail("task threw a non-standard exception");
  }
}

bool TaskKind::run_chunk(std::string_view chunk, std::string& outputs) {
  TaskOutput item;
  return ipc::for_each_chunk_input(chunk, [&](std::string_view input) {
    run_task(*this, input, item);
    ipc::append_chunk_output(outputs, item.ok, item.output_is_json ? ipc::kResultOutputIsJson : 0, item.data);
  });
}

void AsyncTaskKind::run(std::string_view input, TaskOutput& out) {
  // Token 0 with nothing else running; if other tasks run, their results are not ours to
  // drop, so a solo run is refused rather than mixed in.
  if (running() != 0) throw std::logic_error("run() of an async kind while it has tasks running");
  bool done = false;
  begin(0, std::string(input));
  while (!done) {
    poll(-1, 1000, [&](uint64_t, TaskOutput& result) {
      out = std::move(result);
      done = true;
    });
  }
}

}  // namespace procpool
