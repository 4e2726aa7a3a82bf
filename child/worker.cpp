#include "child/worker.hpp"

#include "child/leftovers.hpp"
#include "child/plugin_loader.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ipc/child_args.hpp"
#include "ipc/chunk.hpp"
#include "ipc/clock.hpp"
#include "ipc/eventfd.hpp"
#include "ipc/records.hpp"
#include "ipc/segment.hpp"

namespace procpool {

namespace {

using ipc::ChildArgs;
using ipc::RecordType;

// A kind defined while the child runs that could not start (options a request brought,
// a folder it cannot create): each of its tasks is an error saying why.
class FailingKind final : public TaskKind {
 public:
  explicit FailingKind(std::string why) : why_(std::move(why)) {}
  void run(std::string_view, TaskOutput& out) override { out.fail(why_); }

 private:
  std::string why_;
};

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time (user + system) of the children the worker waited for: a command's.
uint64_t children_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(t.tv_usec) * 1000ull;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// The peak RSS of the worker or of the largest process its tasks ran and waited for (a
// command's): the tree's peak as far as one process shows it.
uint64_t max_rss_kb() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return static_cast<uint64_t>(std::max(self.ru_maxrss, children.ru_maxrss));
}

class Worker {
 public:
  Worker(const ChildArgs& args, const KindRegistry& registry)
      : args_(args), registry_(registry), segment_(ipc::Segment::attach(args.segment)),
        slot_(segment_->slot(args.slot)),
        tasks_(slot_.to_child, slot_.to_child_data, slot_.ring_capacity),
        results_(slot_.to_sup, slot_.to_sup_data, slot_.ring_capacity) {
    results_.set_wake_eventfd(args.wake_fd);
    if (!slot_.control->owned_by(args.generation))
      throw std::runtime_error("slot generation mismatch (a newer child owns this slot)");
    slot_.control->announce(getpid());
    set_state(ipc::ChildState::Starting);
  }

  int run() {
    if (!load_kinds()) return 3;
    leftovers_.keep_current();
    set_state(ipc::ChildState::Ready);
    for (;;) {
      std::string_view record;
      const auto read = tasks_.peek(&record);
      if (read == ipc::RingConsumer::Read::Empty) {
        if (dropping_revoked_) {  // every revoked record is gone: the supervisor may write again
          dropping_revoked_ = false;
          slot_.control->end_revocation(tasks_taken_);
          continue;
        }
        if (!running_.empty()) {
          if (!drive_async(true)) return 0;
        } else if (!idle()) {
          return 0;
        }
        continue;
      }
      if (read == ipc::RingConsumer::Read::Corrupt) return fatal("task ring is corrupt");
      const auto type = ipc::record_type(record);
      if (type == RecordType::Task) {
        if (dropping_revoked_) {  // the supervisor took it back (SlotControl::revoke)
          tasks_.pop();
          tasks_.release();
          continue;
        }
        if (slot_.control->stop_requested()) {
          if (running_.empty()) return finish();
          if (!drive_async(false)) return 0;  // what runs finishes; the queued rest goes back
          continue;
        }
        const auto task = ipc::decode_task(record);
        if (!task || task->header.kind >= kinds_.size() || !kinds_[task->header.kind])
          return fatal("malformed task record or undefined kind");
        if (AsyncTaskKind* async = async_[task->header.kind]) {
          if (async->running() >= kinds_[task->header.kind]->concurrency()) {
            if (!drive_async(false)) return 0;  // full: the next task waits until one finishes
          } else if (claim()) {
            begin_async(*async, *task);
          }
          continue;
        }
        // One task at a time (async tasks of other kinds, if any, wait meanwhile).
        if (claim() && !run_task(*task)) return 4;
      } else if (type == RecordType::Stop) {
        if (!running_.empty()) {
          if (!drive_async(false)) return 0;
          continue;
        }
        tasks_.pop();
        tasks_.release();
        return finish();
      } else if (type == RecordType::DefineKind) {
        if (!define_kind(record, true)) return 3;
      } else {
        return fatal("unknown record type on the task ring");
      }
    }
  }

 private:
  void set_state(ipc::ChildState s) {
    slot_.control->set_state(s);
  }

  // The task at the ring's head is ours to start unless the supervisor revoked the
  // queue: then every task record in the ring is dropped first.
  bool claim() {
    if (slot_.control->claim_task(tasks_taken_)) {
      ++tasks_taken_;
      return true;
    }
    dropping_revoked_ = true;
    return false;
  }

  int fatal(const std::string& message) {
    const std::string record = ipc::encode_fatal(message);
    while (!results_.try_write(record.data(), record.size())) results_.wait_for_space(10'000'000);
    results_.publish();
    return 3;
  }

  // For the set-up steps that return bool: report the fatal error and fail.
  bool refuse(const std::string& message) {
    fatal(message);
    return false;
  }

  int finish() {
    set_state(ipc::ChildState::Exiting);
    results_.publish();
    return 0;
  }

  // The supervisor wrote every DefineKind before starting us; take them all, then Ready.
  bool load_kinds() {
    std::string_view record;
    while (tasks_.peek(&record) == ipc::RingConsumer::Read::Record) {
      const auto type = ipc::record_type(record);
      if (type == RecordType::LoadPlugin) {
        if (!load_plugin_record(record)) return false;
      } else if (type == RecordType::DefineKind) {
        if (!define_kind(record, false)) return false;
      } else if (type == RecordType::Initialize) {
        if (!run_initializer(record)) return false;
      } else {
        break;
      }
    }
    std::vector<uint32_t> concurrency;
    for (const auto& kind : kinds_) {
      concurrency.push_back(kind ? kind->concurrency() : 0);
      // With room for more than one task, new ones must wake the kind's event loop: the
      // supervisor rings our eventfd instead of the futex once it reads this record.
      if (kind && kind->concurrency() > 1) wake_by_eventfd_ = args_.task_wake_fd >= 0;
    }
    const std::string ready = ipc::encode_ready(concurrency);
    if (!results_.try_write(ready.data(), ready.size())) return refuse("result ring too small");
    results_.publish();
    return true;
  }

  bool load_plugin_record(std::string_view record) {
    const auto path = ipc::decode_load_plugin(record);
    if (!path) return refuse("malformed plugin record");
    try {
      load_plugin(std::string(*path), registry_);
    } catch (const std::exception& e) {
      return refuse(e.what());
    }
    tasks_.pop();
    tasks_.release();
    return true;
  }

  // The pool's initializer: one run of a kind before any task. Its failure is the
  // child's failure to start, which stops the pool with the initializer's message.
  bool run_initializer(std::string_view record) {
    if (record.size() < 2) return refuse("malformed initializer record");
    const auto kind = static_cast<uint8_t>(record[1]);
    if (kind >= kinds_.size() || !kinds_[kind]) return refuse("initializer names an undefined kind");
    TaskOutput out;
    try {
      kinds_[kind]->run(record.substr(2), out);
    } catch (const std::exception& e) {
      out.fail(e.what());
    }
    if (!out.ok) return refuse("initializer failed: " + out.data);
    tasks_.pop();
    tasks_.release();
    return true;
  }

  // A kind of the pool's (before Ready) that cannot start is the child's failure to
  // start; one defined later, with the options a request brought, fails its tasks only.
  bool define_kind(std::string_view record, bool after_ready) {
    const auto def = ipc::decode_define_kind(record);
    if (!def) return refuse("malformed kind definition");
    const KindInfo* info = registry_.find(def->name);
    std::unique_ptr<TaskKind> kind;
    std::string why;
    try {
      if (info == nullptr) throw std::invalid_argument("unknown task kind '" + def->name + "'");
      kind = info->create(KindOptions::decode(def->options));
      kind->start();
    } catch (const std::exception& e) {
      why = e.what();  // option errors name their kind already
      if (why.rfind(def->name + " ", 0) != 0) why = def->name + ": " + why;
      if (!after_ready) return refuse(why);
      kind = std::make_unique<FailingKind>(why);
    }
    if (kinds_.size() <= def->id) {
      kinds_.resize(def->id + 1u);
      async_.resize(def->id + 1u, nullptr);
    }
    async_[def->id] = dynamic_cast<AsyncTaskKind*>(kind.get());
    kinds_[def->id] = std::move(kind);
    if (run_ewma_ns_.size() <= def->id) run_ewma_ns_.resize(def->id + 1u, kMeasureCpuNs * 4);
    tasks_.pop();
    tasks_.release();
    return true;
  }

  // Runs the task whose record is at the head of the task ring. The record stays in the
  // ring (the input is read in place) until the result is published.
  bool run_task(const ipc::TaskView& task) {
    ipc::SlotControl& control = *slot_.control;
    ipc::ResultHeader result{};
    result.type = static_cast<uint8_t>(RecordType::Result);
    result.attempt = task.header.attempt;
    result.task_id = task.header.task_id;
    // CPU time costs two system calls, more than a very short task itself: measure it
    // only while this kind's recent tasks ran long enough (see kMeasureCpuNs).
    uint64_t& ewma = run_ewma_ns_[task.header.kind];  // chunks share it: their run is long anyway
    const bool measure = ewma >= kMeasureCpuNs;
    const uint64_t cpu_start = measure ? thread_cpu_ns() : 0;
    const uint64_t children_start = measure ? children_cpu_ns() : 0;
    result.start_ns = ipc::monotonic_ns();
    control.show_running(task.header.task_id, result.start_ns);

    TaskKind& kind = *kinds_[task.header.kind];
    set_current_task({task.header.task_id, task.header.attempt, args_.slot});
    if ((task.header.flags & ipc::kTaskChunk) != 0) {
      run_chunk(kind, task.input);
    } else {
      procpool::run_task(kind, task.input, output_);
    }
    result.end_ns = ipc::monotonic_ns();
    const uint64_t run_ns = result.end_ns - result.start_ns;
    ewma = (ewma * 7 + run_ns) / 8;
    if (measure) result.cpu_ns = thread_cpu_ns() - cpu_start + (children_cpu_ns() - children_start);
    if (measure || result.end_ns - rss_read_ns_ > kRssPeriodNs) {
      rss_kb_ = max_rss_kb();
      rss_read_ns_ = result.end_ns;
    }
    result.max_rss_kb = rss_kb_;
    write_result(result, output_, measure ? 0 : ipc::kResultCpuNotMeasured);
    results_.publish();
    control.count_finished(result.end_ns - result.start_ns);
    show_oldest_async();  // 0 unless async tasks wait behind this one
    tasks_.pop();
    tasks_.release();
    if (running_.empty()) leftovers_.after_task(result.end_ns, run_ns);
    return true;
  }

  // Writes a task's result record (published by the caller). An output too big for the
  // ring becomes an error naming the limit.
  void write_result(ipc::ResultHeader& result, TaskOutput& out, uint8_t flags) {
    const std::size_t room = results_.max_payload() - sizeof result;
    if (out.data.size() > room) {
      if (out.ok) {  // an output is all or nothing: a cut one would be wrong
        out.fail("output of " + std::to_string(out.data.size()) + " bytes exceeds the limit of " +
                 std::to_string(room) + " bytes");
      } else {  // an error message is read by people: its start says what went wrong
        const std::string marker = "... [" + std::to_string(out.data.size()) + " bytes, cut]";
        out.data.resize(room - marker.size());
        out.data += marker;
      }
    }
    // A command the task ran that a signal killed (exec) crashed, though the worker lives.
    const ipc::Status failed = out.signal != 0 ? ipc::Status::crashed : ipc::Status::error;
    result.status = static_cast<uint8_t>(out.ok ? ipc::Status::ok : failed);
    result.flags = static_cast<uint8_t>((out.output_is_json ? ipc::kResultOutputIsJson : 0) | flags);
    result.exit_code = std::clamp(out.exit_code, -1, 255);
    result.signal = std::clamp(out.signal, 0, 64);
    while (!results_.try_write(&result, sizeof result, out.data.data(), out.data.size())) {
      results_.publish();
      results_.wait_for_space(10'000'000);
    }
  }

  // --- Kinds that run many tasks at once (AsyncTaskKind) ---
  // The task's input is copied out and its record released at once: the ring stays free
  // for the tasks behind it. Its token is its position in tasks_taken_, so the oldest
  // running task is the first entry of running_.
  void begin_async(AsyncTaskKind& kind, const ipc::TaskView& task) {
    AsyncTask& entry = running_[tasks_taken_];  // claimed: tasks_taken_ counts it
    entry.task_id = task.header.task_id;
    entry.attempt = task.header.attempt;
    entry.start_ns = ipc::monotonic_ns();
    std::string input(task.input);
    tasks_.pop();
    released_pending_ = true;
    if (running_.size() == 1) show_oldest_async();
    if ((task.header.flags & ipc::kTaskChunk) != 0) {
      output_.fail("chunks of an async kind are not supported: submit its inputs one by one");
      finish_async(tasks_taken_, output_);
      return;
    }
    try {
      set_current_task({entry.task_id, entry.attempt, args_.slot});
      kind.begin(tasks_taken_, std::move(input));
    } catch (const std::exception& e) {
      output_.fail(e.what());
      finish_async(tasks_taken_, output_);
    }
  }

  // Runs the async kinds' event loops once. With may_take, new tasks on the ring wake
  // the loop (the eventfd the supervisor rings once we announced sleep); otherwise the
  // child has no room for them and only running tasks matter. False when the child
  // should exit (orphaned).
  bool drive_async(bool may_take) {
    if (released_pending_) {
      tasks_.release();
      released_pending_ = false;
    }
    int wake = -1;
    int timeout_ms = kAsyncPollMs;
    if (may_take) {
      if (!tasks_.prepare_sleep()) {
        timeout_ms = 0;  // a task arrived meanwhile
      } else if (wake_by_eventfd_) {
        wake = args_.task_wake_fd;
      } else {
        timeout_ms = kAsyncFallbackPollMs;  // no eventfd to wake us (concurrency 1 kinds)
      }
    }
    std::size_t active = 0;
    for (AsyncTaskKind* kind : async_)
      if (kind != nullptr && kind->running() != 0) ++active;
    // Several busy async kinds: none may block the others for long.
    if (active > 1) timeout_ms = std::min(timeout_ms, kAsyncFallbackPollMs);
    for (AsyncTaskKind* kind : async_) {
      if (kind == nullptr || kind->running() == 0) continue;
      try {
        kind->poll(wake, timeout_ms, [this](uint64_t token, TaskOutput& out) { finish_async(token, out); });
      } catch (const std::exception& e) {
        fatal(std::string("event loop of an async kind failed: ") + e.what());
        std::_Exit(3);  // its tasks' states are unknown: a crash, charged to what ran
      }
    }
    if (may_take) {
      tasks_.end_sleep();
      if (wake >= 0) drain_task_wake();
    }
    results_.publish();
    const uint64_t now = ipc::monotonic_ns();
    if (now - parent_checked_ns_ > kSleepNs) {
      parent_checked_ns_ = now;
      if (getppid() != args_.supervisor) return false;
    }
    return true;
  }

  void drain_task_wake() { ipc::eventfd_drain(args_.task_wake_fd); }

  void finish_async(uint64_t token, TaskOutput& out) {
    const auto it = running_.find(token);
    if (it == running_.end()) return;  // a kind reporting a task twice: keep the first
    ipc::ResultHeader result{};
    result.type = static_cast<uint8_t>(RecordType::Result);
    result.attempt = it->second.attempt;
    result.task_id = it->second.task_id;
    result.start_ns = it->second.start_ns;
    result.end_ns = ipc::monotonic_ns();
    if (result.end_ns - rss_read_ns_ > kRssPeriodNs) {
      rss_kb_ = max_rss_kb();
      rss_read_ns_ = result.end_ns;
    }
    result.max_rss_kb = rss_kb_;
    // Per-task CPU time means nothing when tasks share one thread's time.
    write_result(result, out, ipc::kResultCpuNotMeasured);
    const bool was_oldest = it == running_.begin();
    running_.erase(it);
    slot_.control->count_finished(result.end_ns - result.start_ns);
    if (was_oldest) show_oldest_async();
    if (running_.empty()) leftovers_.after_task(result.end_ns, result.end_ns - result.start_ns);
  }

  // The control block names the oldest running async task (or none), so the
  // supervisor's task timeout applies to tasks of async kinds as well.
  void show_oldest_async() {
    if (running_.empty()) {
      slot_.control->show_idle();
      return;
    }
    const AsyncTask& oldest = running_.begin()->second;
    slot_.control->show_running(oldest.task_id, oldest.start_ns);
  }

  // Each input of the chunk in turn; their outputs concatenated (ipc/chunk.hpp).
  void run_chunk(TaskKind& kind, std::string_view chunk) {
    std::string combined;
    combined.reserve(chunk.size() + chunk.size() / 2);  // outputs are often about as big as inputs
    const bool well_formed = kind.run_chunk(chunk, combined);
    output_.ok = well_formed;
    output_.output_is_json = false;
    output_.exit_code = -1;  // the chunk's inputs each had theirs
    output_.signal = 0;
    output_.data = well_formed ? std::move(combined) : "malformed chunk";
  }

  // Nothing to do: spin a little (a busy pool's next task is microseconds away), then
  // sleep on the ring's doorbell. False when the child should exit.
  bool idle() {
    const uint64_t spin_until = ipc::monotonic_ns() + kSpinNs;
    while (ipc::monotonic_ns() < spin_until) {
      if (tasks_.has_data()) return true;
      sched_yield();  // on a machine with fewer cores than processes, let the supervisor run
    }
    if (running_.empty()) leftovers_.before_sleep(ipc::monotonic_ns());  // nothing a task left lives on while we wait
    if (tasks_.prepare_sleep()) {
      if (wake_by_eventfd_) {
        pollfd pfd{args_.task_wake_fd, POLLIN, 0};
        ::poll(&pfd, 1, static_cast<int>(kSleepNs / 1'000'000));
        tasks_.end_sleep();
        drain_task_wake();
      } else {
        tasks_.wait_for_data(kSleepNs);
      }
    }
    if (getppid() != args_.supervisor) return false;  // orphaned: the supervisor is gone
    if (slot_.control->stop_requested() && !tasks_.has_data()) {
      finish();
      return false;
    }
    return true;
  }

  // Tasks shorter than this (smoothed) get no CPU-time measurement: its two system
  // calls cost ~1-2 µs here, which would cap a pool at a few hundred thousand tasks/s.
  static constexpr uint64_t kMeasureCpuNs = 50'000;
  // The peak RSS is read after every measured task, and at least this often otherwise.
  static constexpr uint64_t kRssPeriodNs = 10'000'000;
  static constexpr uint64_t kSpinNs = 50'000;
  static constexpr uint64_t kSleepNs = 200'000'000;
  // An async kind's poll waits at most this long (then the loop checks on its parent),
  // and this long where nothing else could wake it.
  static constexpr int kAsyncPollMs = 200;
  static constexpr int kAsyncFallbackPollMs = 2;

  struct AsyncTask {
    uint64_t task_id = 0;
    uint32_t attempt = 0;
    uint64_t start_ns = 0;
  };

  ChildArgs args_;
  KindRegistry registry_;  // the built-in kinds, then those of plugins the supervisor names
  std::unique_ptr<ipc::Segment> segment_;
  ipc::SlotView slot_;
  ipc::RingConsumer tasks_;
  ipc::RingProducer results_;
  std::vector<std::unique_ptr<TaskKind>> kinds_;
  std::vector<AsyncTaskKind*> async_;  // per kind: the kind if it runs many tasks at once
  std::map<uint64_t, AsyncTask> running_;  // async tasks by token (= position taken)
  bool released_pending_ = false;          // async tasks popped, ring space not yet released
  bool wake_by_eventfd_ = false;
  uint64_t tasks_taken_ = 0;  // claimed (SlotControl::claim_task): after our death the
                              // supervisor charges the first tasks_taken it has no result for
  bool dropping_revoked_ = false;
  uint64_t parent_checked_ns_ = 0;
  TaskOutput output_;
  std::vector<uint64_t> run_ewma_ns_;  // per kind; starts "long", so first tasks are measured
  uint64_t rss_kb_ = 0;
  uint64_t rss_read_ns_ = 0;
  Leftovers leftovers_;
};

}  // namespace

bool is_child_invocation(int argc, char** argv) {
  return ipc::is_child_argv(argc, argv);
}

int run_child(int argc, char** argv, const KindRegistry& registry) {
  const std::optional<ipc::ChildArgs> decoded = ipc::decode_child_args(argc, argv);
  if (!decoded) {
    std::fprintf(stderr, "procpool child: bad arguments (this mode is started by a pool, not by hand)\n");
    return 2;
  }
  const ipc::ChildArgs& args = *decoded;
  // Die with the supervisor. The signal follows the thread that forked us, which is the
  // supervisor's loop thread; the getppid() check closes the race where it died before
  // prctl took effect.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {  // an orphan would work for nobody, for ever
    std::perror("procpool child: prctl(PR_SET_PDEATHSIG)");
    return 1;
  }
  if (getppid() != args.supervisor) return 1;
  // The supervisor blocks SIGINT/SIGTERM to read them from a signalfd, and a blocked mask
  // survives exec: unblock them, then ignore a terminal's ^C (it is the supervisor's).
  sigset_t all;
  sigfillset(&all);
  // Neither can fail with these arguments (sigprocmask: EINVAL for a bad `how` only;
  // signal: SIG_ERR for an invalid signal number only).
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  std::signal(SIGINT, SIG_IGN);
  try {
    Worker worker(args, registry);
    return worker.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "procpool child %u: %s\n", args.slot, e.what());
    return 3;
  }
}

}  // namespace procpool
