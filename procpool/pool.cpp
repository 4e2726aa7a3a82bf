// The C++ API over the supervisor: a loop thread owns the Supervisor (children are
// spawned from it, so their parent-death signal follows it), takes submissions posted
// by any thread through an eventfd-woken inbox, and fulfils futures from its results.
#include "procpool/pool.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>
#include <utility>

#include "child/plugin_loader.hpp"
#include "ipc/chunk.hpp"
#include "ipc/clock.hpp"
#include "ipc/doorbell.hpp"
#include "ipc/eventfd.hpp"
#include "procpool/batches.hpp"
#include "procpool/task_state.hpp"
#include "supervisor/engine/supervisor.hpp"

namespace procpool {

namespace detail {

// A result is often microseconds away: look for it for a while before sleeping on the
// condition variable, whose wake-up alone costs tens of microseconds here.
void spin_until_done(const TaskState& state) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  while (!state.done_flag.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
}

struct Posted {
  uint8_t kind;
  std::string input;
  uint16_t flags;
  std::shared_ptr<TaskState> state;
};

// cancel() or kill() of some tasks, answered by the loop thread: for each, whether it
// will end cancelled (cancel: already has; kill: once its worker is reaped).
struct Control {
  std::vector<std::shared_ptr<TaskState>> states;
  bool kill = false;
  std::promise<std::vector<bool>> answer;
};

Result to_result(const supervisor::Completion& c, Status status, std::string_view bytes, bool json) {
  Result r;
  r.status = status;
  (status == Status::ok ? r.output : r.error) = std::string(bytes);
  r.output_is_json = json;
  r.attempts = c.attempts;
  r.worker = c.worker;
  r.pid = c.pid;
  if (c.start_ns != 0) {
    r.wait = std::chrono::nanoseconds(c.start_ns > c.queued_ns ? c.start_ns - c.queued_ns : 0);
    r.run = std::chrono::nanoseconds(c.end_ns - c.start_ns);
    r.cpu = std::chrono::nanoseconds(c.cpu_measured ? c.cpu_ns : 0);
    r.max_rss_kb = c.max_rss_kb;
  }
  return r;
}

// A chunk's Result as one Result per input: each its own output (or error) beside the
// chunk's timings; a chunk that failed as a whole fails each.
std::vector<Result> expand_chunk(Result chunk, std::size_t count) {
  if (!chunk.ok()) return std::vector<Result>(count, chunk);
  std::vector<Result> results;
  results.reserve(count);
  Result item = chunk;
  item.output.clear();
  const bool well_formed = ipc::for_each_chunk_output(chunk.output, [&](bool ok, uint8_t flags, std::string_view bytes) {
    Result& r = results.emplace_back(item);
    r.status = ok ? Status::ok : Status::error;
    (ok ? r.output : r.error) = std::string(bytes);
    r.output_is_json = (flags & ipc::kResultOutputIsJson) != 0;
  });
  if (!well_formed || results.size() != count) {
    item.status = Status::error;
    item.error = "malformed chunk output from the worker";
    results.assign(count, item);
  }
  return results;
}

struct PoolCore final : supervisor::Remote, supervisor::PoolEvents {
  std::vector<std::string> kind_names;
  std::map<std::string, uint8_t> kind_ids;
  std::map<std::string, std::string> unavailable;  // kinds left out for want of options
  std::thread loop;
  int efd = -1;
  ipc::Doorbell bell;  // the loop's sleeping flag (in-process use of the same protocol)
  unsigned workers = 0;
  std::string containment;

  // Done callbacks' thread, made by the first on_done().
  std::shared_ptr<CallbackRunner> callback_runner() {
    std::lock_guard<std::mutex> lock(runner_m);
    if (!runner) runner = std::make_shared<CallbackRunner>();
    return runner;
  }
  std::mutex runner_m;
  std::shared_ptr<CallbackRunner> runner;

  std::mutex m;  // guards the inbox below
  std::vector<Posted> posts;
  std::vector<Control> controls;
  bool stop_requested = false;
  bool cancel_pending = false;
  bool kill_running = false;
  bool closed = false;  // the loop has ended: posts are refused
  // Bumped (release) after each post; the loop compares it with what it took (acquire).
  std::atomic<uint64_t> posted{0};
  uint64_t taken = 0;  // loop thread only
  // The loop's side of the inbox (under engine_m): swapped with posts, so that neither
  // side grows a vector from nothing at every batch.
  std::vector<Posted> taken_posts;
  std::string closed_reason;

  // Under engine_m: the loop thread, or a submit_directly() or await_directly().
  // What the engine's task ids first_id, first_id+1, ... settle: a future (a task, or a
  // map's chunk), or the futures of a batch of submit()s (procpool/batches.hpp).
  struct Entry {
    std::shared_ptr<TaskState> state;
    std::vector<std::shared_ptr<TaskState>> batch;
    explicit operator bool() const { return state || !batch.empty(); }
  };
  std::deque<Entry> by_id;
  uint64_t first_id = 0;
  bool batch_submits = true;
  bool cancelling = false;  // a shutdown cancels what has not run
  uint64_t gathering_since = 0;  // posts are left to gather since (let_posts_gather), 0: not
  bool stopping = false;

  ~PoolCore() override {
    if (efd >= 0) close(efd);
  }

  void wake() {
    ipc::eventfd_ring(efd);
  }

  // The engine's lock: the loop thread holds it but while it blocks in epoll, so that a
  // submit to an idle pool dispatches the task itself, from its own thread, rather than
  // wake the loop to do it: one wake-up (tens of microseconds here) fewer on the way to
  // the worker. Taken before m, never after.
  std::mutex engine_m;
  supervisor::Supervisor* engine = nullptr;  // under engine_m, while serve() runs
  void before_blocking() override { engine_m.unlock(); }
  void after_blocking() override { engine_m.lock(); }

  // Any thread: p submitted and sent to the rings at once if the loop is blocked (the
  // engine lock is free), the workers are not busy, and nothing posted before waits in
  // the inbox (order is kept).
  bool submit_directly(Posted& p) {
    std::unique_lock<std::mutex> engine_lock(engine_m, std::try_to_lock);
    if (!engine_lock.owns_lock() || engine == nullptr) return false;
    // Busy workers: no wake-up to spare, and the task may wait to join a batch.
    if (batch_submits && engine->unfinished() >= kBusyPerWorker * workers) return false;
    {
      std::lock_guard<std::mutex> lock(m);
      if (closed || stop_requested || !posts.empty() || !controls.empty()) return false;
    }
    submit_one(*engine, p);
    if (!engine->dispatch_now()) wake();  // what no ring could take now, the loop sends later
    return true;
  }

  // Any thread waiting for state, until it is done, or deadline, or the loop wants the
  // pool back: while the loop is blocked (the engine lock is free) this thread collects
  // the results itself (Supervisor::watch_results), so the worker's ring wakes it and
  // not the loop that would then wake it. Spins 50 us first: a short task's result is
  // often that close, and a sleep costs more. False if the loop is awake (then it hands
  // the result on).
  bool await_directly(const TaskState& state, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> engine_lock(engine_m, std::try_to_lock);
    if (!engine_lock.owns_lock() || engine == nullptr) return false;
    engine->watch_results();
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    for (;;) {
      engine->collect_now();
      if (state.done_flag.load(std::memory_order_acquire)) break;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      if (now < spin_until) {
        std::this_thread::yield();  // machines with fewer cores than processes
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
      if (!engine->await_results(static_cast<int>(std::min<int64_t>(left, 100)))) break;
    }
    engine->return_results_watch();
    return true;
  }

  // Any thread.
  void post(Posted p) {
    if (submit_directly(p)) return;
    {
      std::lock_guard<std::mutex> lock(m);
      if (closed || stop_requested) {
        const std::string why = closed ? closed_reason : "the pool is shut down";
        throw PoolError("cannot submit: " + why);
      }
      posts.push_back(std::move(p));
    }
    posted.fetch_add(1, std::memory_order_release);
    if (bell.should_wake()) wake();
  }

  // Any thread: the loop's answer for each state (false for all once the loop has ended).
  std::vector<bool> control(std::vector<std::shared_ptr<TaskState>> states, bool kill) {
    Control c;
    c.states = std::move(states);
    c.kill = kill;
    std::future<std::vector<bool>> answer = c.answer.get_future();
    const std::size_t n = c.states.size();
    {
      std::lock_guard<std::mutex> lock(m);
      if (closed) return std::vector<bool>(n, false);
      controls.push_back(std::move(c));
    }
    posted.fetch_add(1, std::memory_order_release);
    wake();
    return answer.get();
  }

  // Remote, on the loop thread.
  int wake_fd() const override { return efd; }

  bool take(supervisor::Supervisor& pool) override {
    ipc::eventfd_drain(efd);
    std::vector<Posted>& new_posts = taken_posts;  // emptied below, its capacity kept for the next swap
    std::vector<Control> new_controls;
    bool cancel_all = false, kill_all = false;
    const uint64_t seen = posted.load(std::memory_order_acquire);  // before the swap: later posts stay visible
    {
      std::lock_guard<std::mutex> lock(m);
      if (let_posts_gather(pool)) return false;  // has_posts() stays true: the loop does not sleep
      taken = seen;
      new_posts.swap(posts);
      new_controls.swap(controls);
      if (stop_requested && !stopping) {
        stopping = true;
        cancel_all = cancel_pending || kill_running;
        kill_all = kill_running;
      }
    }
    submit_posts(pool, new_posts);
    const bool any_posts = !new_posts.empty();
    new_posts.clear();
    for (Control& c : new_controls) {
      std::vector<bool> answers;
      answers.reserve(c.states.size());
      for (const auto& state : c.states) answers.push_back(stop(pool, *state, c.kill));
      c.answer.set_value(std::move(answers));
    }
    cancelling |= cancel_all;
    if (cancel_all) {
      // Ids first: each cancel settles its entry, and on_result drops the settled front.
      std::vector<uint64_t> ids;
      for (std::size_t i = 0; i < by_id.size(); ++i)
        if (by_id[i]) ids.push_back(first_id + i);
      for (const uint64_t id : ids) pool.cancel(id, "cancelled by shutdown");
    }
    if (kill_all) pool.halt(/*kill_running=*/true);  // what runs is reported cancelled as its worker is reaped
    return any_posts || !new_controls.empty() || cancel_all;
  }

  bool prepare_sleep() override {
    bell.announce_sleep();
    std::lock_guard<std::mutex> lock(m);
    const bool pending = !posts.empty() || !controls.empty() || (stop_requested && !stopping);
    if (pending) bell.clear();
    return pending;
  }
  void woke() override { bell.clear(); }
  bool has_posts() const override { return posted.load(std::memory_order_acquire) != taken; }
  bool finished(const supervisor::Supervisor& pool) const override { return stopping && pool.unfinished() == 0; }

  // Under engine_m: sends what was posted, in order; runs of short tasks of one kind that
  // came in together go in batches.
  void submit_posts(supervisor::Supervisor& pool, std::vector<Posted>& posts) {
    for (std::size_t i = 0; i < posts.size();) {
      std::size_t run = 1;
      if (batchable(posts[i]))
        while (i + run < posts.size() && posts[i + run].kind == posts[i].kind && batchable(posts[i + run])) ++run;
      const std::size_t size = run < kMinBatch ? 1 : batch_size(pool.recent_run_ns(posts[i].kind), run, workers);
      for (std::size_t end = i + run; i < end;) {
        const std::size_t n = std::min(size, end - i);
        if (n == 1) {
          submit_one(pool, posts[i]);
        } else {
          submit_batch(pool, posts, i, n);
        }
        i += n;
      }
    }
  }

  // Under m: while the workers have plenty queued, short tasks posted one by one are left
  // in the inbox to gather, so that they go in batches of a useful size rather than one
  // at a time as the loop, faster than the poster, takes them. Never with a cancel or a
  // stop waiting (those act on what was posted before them, which must be in the engine),
  // and for kGatherNs at most: the loop does not sleep while posts wait, and the workers
  // may be busy for long with other work.
  bool let_posts_gather(const supervisor::Supervisor& pool) {
    const bool may = !posts.empty() && controls.empty() && !stop_requested && posts.size() < kMaxBatch * workers &&
                     batchable(posts.front()) && pool.unfinished() >= kBusyPerWorker * workers;
    const uint64_t run_ns = may ? pool.recent_run_ns(posts.front().kind) : 0;
    if (run_ns == 0 || run_ns > kBatchTaskNs) {
      gathering_since = 0;
      return false;
    }
    const uint64_t now = ipc::monotonic_ns();
    if (gathering_since == 0) gathering_since = now;
    if (now - gathering_since < kGatherNs) return true;
    gathering_since = 0;
    return false;
  }

  bool batchable(const Posted& p) const {
    return batch_submits && p.flags == 0 && !p.state->chunk && !p.state->stream && !p.state->alone;
  }

  void submit_one(supervisor::Supervisor& pool, Posted& p) {
    const uint64_t id = pool.submit(p.kind, std::move(p.input), p.flags);
    p.state->id.store(id, std::memory_order_release);
    by_id.push_back({std::move(p.state), {}});
  }

  // posts[first, first + n) as one chunk, whose worker's crash or timeout is its result at
  // once (once): settle_batch() then runs each again alone. A batch ends early at
  // kMaxBatchBytes of inputs (the rest make more batches, or go alone).
  void submit_batch(supervisor::Supervisor& pool, std::vector<Posted>& posts, std::size_t first, std::size_t n) {
    Entry entry;
    entry.batch.reserve(n);
    std::string payload;
    const uint64_t queued_ns = ipc::monotonic_ns();
    for (std::size_t i = first; i < first + n; ++i) {
      if (posts[i].input.size() + payload.size() > kMaxBatchBytes && entry.batch.size() > 0) {
        flush_batch(pool, entry, payload, posts[first].kind, queued_ns);
      }
      ipc::append_chunk_input(payload, posts[i].input);
      posts[i].state->batched = true;
      entry.batch.push_back(std::move(posts[i].state));
    }
    flush_batch(pool, entry, payload, posts[first].kind, queued_ns);
  }

  void flush_batch(supervisor::Supervisor& pool, Entry& entry, std::string& payload, uint8_t kind, uint64_t queued_ns) {
    const uint64_t id = pool.submit(kind, std::move(payload), ipc::kTaskChunk, queued_ns, /*once=*/true);
    for (const auto& state : entry.batch) state->id.store(id, std::memory_order_release);
    by_id.push_back(std::move(entry));
    entry = Entry{};
    payload.clear();
  }

  // Under engine_m: cancel() or kill() of one task; for a task in a batch, of its batch
  // (settle_batch() then runs the others again).
  bool stop(supervisor::Supervisor& pool, TaskState& state, bool kill) {
    const uint64_t id = state.id.load(std::memory_order_acquire);
    if (id == kNoId) return false;
    state.stop_asked = state.batched;
    const bool stopped = kill ? pool.kill(id, "killed by TaskFuture::kill()") : pool.cancel(id, "cancelled");
    if (!stopped) state.stop_asked = false;
    return stopped;
  }

  // A batch's result: each task's own when the batch ran; when it failed as a whole (its
  // worker crashed or hung, it was cancelled or killed), each task runs again alone, but
  // the one whose cancel() or kill() stopped it, and all of them once the pool stops.
  void settle_batch(const supervisor::Completion& c, std::vector<std::shared_ptr<TaskState>>& batch) {
    if (c.status == Status::ok) {
      std::vector<Result> results = expand_chunk(to_result(c, Status::ok, c.output, false), batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        std::vector<Result> own;
        own.push_back(std::move(results[i]));
        complete(*batch[i], std::move(own));
      }
      return;
    }
    const bool ending = cancelling || engine == nullptr || engine->stopping();
    std::size_t i = 0;
    ipc::for_each_chunk_input(c.input, [&](std::string_view input) {
      if (i >= batch.size()) return;
      std::shared_ptr<TaskState>& state = batch[i++];
      state->batched = false;
      if (ending || state->stop_asked) {
        complete(*state, {to_result(c, c.status, c.output, false)});
        return;
      }
      state->alone = true;
      Posted again{c.kind, std::string(input), 0, std::move(state)};
      submit_one(*engine, again);
    });
    // Fewer inputs than futures cannot be (the batch was made here), but none may hang.
    for (; i < batch.size(); ++i) complete(*batch[i], {to_result(c, c.status, c.output, false)});
  }

  // PoolEvents, on the loop thread.
  void on_result(const supervisor::Completion& c) override {
    if (c.id < first_id || c.id - first_id >= by_id.size() || !by_id[c.id - first_id]) return;
    Entry entry = std::move(by_id[c.id - first_id]);
    by_id[c.id - first_id] = Entry{};
    if (!entry.batch.empty()) {
      settle_batch(c, entry.batch);
    } else {
      TaskState& state = *entry.state;
      std::vector<Result> results;
      results.push_back(to_result(c, c.status, c.output, state.chunk ? false : c.output_is_json));
      if (state.chunk && !state.undivided) results = expand_chunk(std::move(results.front()), state.count);
      complete(state, std::move(results));
    }
    while (!by_id.empty() && !by_id.front()) {
      by_id.pop_front();
      ++first_id;
    }
  }

  // The loop ends: nothing posted later or left untaken may wait forever.
  void close_with(const std::string& reason) {
    std::vector<Posted> leftover;
    std::vector<Control> unanswered;
    {
      std::lock_guard<std::mutex> lock(m);
      closed = true;
      closed_reason = reason;
      leftover.swap(posts);
      unanswered.swap(controls);
    }
    for (Control& c : unanswered) c.answer.set_value(std::vector<bool>(c.states.size(), false));
    for (Posted& p : leftover) {
      Result r;
      r.status = Status::cancelled;
      r.error = "cancelled: " + reason;
      complete(*p.state, std::vector<Result>(p.state->count, r));
    }
  }
};

}  // namespace detail

using detail::PoolCore;
using detail::TaskState;

namespace {

// The ranges the command line and the config file hold these to, in the config file's words.
void check_range(const char* name, uint64_t value, uint64_t min, uint64_t max, const char* zero = nullptr) {
  if (zero != nullptr && value == 0) return;
  if (value >= min && value <= max) return;
  throw PoolError(std::string("Options::") + name + " must be from " + std::to_string(min) + " to " +
                  std::to_string(max) + (zero != nullptr ? std::string(" (0: ") + zero + ")" : "") + ", not " +
                  std::to_string(value));
}

void check_options(const Options& o) {
  check_range("workers", o.workers, 1, 1024, "the usable cores");
  check_range("max_attempts", o.max_attempts, 1, 100);
  check_range("max_procs_per_child", o.max_procs_per_child, 16, 4194304, "no limit");
  if (o.task_timeout.count() < 0) throw PoolError("Options::task_timeout must not be negative");
}

}  // namespace

Pool::Pool(Options options) : core_(std::make_shared<PoolCore>()) {
  if (std::getenv("PROCPOOL_CHILD") != nullptr)
    throw PoolError("a worker process tried to start a pool: call procpool::init(argc, argv) first thing in main()");
  check_options(options);
  KindRegistry registry;
  register_builtin_kinds(registry);
  for (const KindInfo* kind : program_kinds().all()) registry.add(*kind);
  try {
    for (const std::string& plugin : options.plugins) load_plugin(plugin, registry);
  } catch (const std::exception& e) {
    throw PoolError(e.what());
  }
  std::vector<supervisor::KindSpec> specs;
  for (const KindInfo* kind : registry.all()) {
    KindOptions kind_opts;
    const auto given = options.kind_options.find(kind->name);
    if (given != options.kind_options.end()) kind_opts = given->second;
    try {
      const KindOptions checked = kind->check(kind_opts);  // here, where the caller can catch it
      specs.push_back({kind->name, kind->schema().task_options(checked).encode()});
    } catch (const std::exception& e) {
      // Options given and wrong: the caller's mistake. None given, and the kind needs
      // some (exec needs a command): left out, and a submit to it says why.
      if (given != options.kind_options.end()) {
        const std::string why = e.what();  // option errors name their kind already
        throw PoolError(why.rfind(kind->name + " ", 0) == 0 ? why : kind->name + ": " + why);
      }
      core_->unavailable[kind->name] = e.what();
      continue;
    }
    core_->kind_ids[kind->name] = static_cast<uint8_t>(core_->kind_names.size());
    core_->kind_names.push_back(kind->name);
  }
  if (specs.size() > 255) throw PoolError("a pool supports at most 255 task kinds");

  supervisor::PoolOptions popts;
  popts.workers = options.workers;
  popts.max_attempts = options.max_attempts;
  popts.task_timeout_ns = static_cast<uint64_t>(options.task_timeout.count());
  popts.retry_timeouts = options.retry_timeouts;
  popts.max_tasks_per_child = options.max_tasks_per_child;
  popts.max_memory_per_child = options.max_memory_per_child;
  popts.hard_memory_per_child = options.hard_memory_per_child;
  popts.plugins = options.plugins;
  popts.child_exe = options.executable;
  popts.child_exe_args = options.executable_args;
  const auto containment = supervisor::containment_from_name(options.containment);
  if (!containment) throw PoolError("containment must be auto, cgroup2, cgroup1 or process-group, not '" + options.containment + "'");
  popts.containment = *containment;
  popts.max_procs_per_child = options.max_procs_per_child;
  if (!options.initializer.empty()) {
    auto it = core_->kind_ids.find(options.initializer);
    if (it == core_->kind_ids.end()) throw PoolError("initializer: unknown task kind '" + options.initializer + "'");
    popts.initializer_kind = it->second;
    popts.initializer_input = options.initializer_input;
  }

  core_->batch_submits = options.batch_submits;
  core_->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core_->efd < 0) throw PoolError(std::string("eventfd failed: ") + std::strerror(errno));
  std::promise<std::string> started;
  auto started_future = started.get_future();
  PoolCore* core = core_.get();
  core_->loop = std::thread([core, popts, specs, started = std::move(started)]() mutable {
    bool reported = false;
    std::unique_lock<std::mutex> engine_lock(core->engine_m);  // released only while serve() blocks
    try {
      supervisor::Supervisor supervisor(popts, specs);
      const std::string error = supervisor.start_up();
      core->workers = supervisor.workers();
      core->containment = supervisor.containment();
      started.set_value(error);
      reported = true;
      if (!error.empty()) {
        engine_lock.unlock();
        core->close_with(error);
        return;
      }
      core->engine = &supervisor;
      const supervisor::RunOutcome outcome = supervisor.serve(*core, *core);
      core->engine = nullptr;
      engine_lock.unlock();
      core->close_with(outcome.error.empty() ? "the pool is shut down" : outcome.error);
      supervisor.shutdown();
    } catch (const std::exception& e) {
      if (engine_lock.owns_lock()) {  // serve() throws with the lock held (epoll_wait does not throw)
        core->engine = nullptr;
        engine_lock.unlock();
      }
      if (!reported) started.set_value(e.what());
      core->close_with(e.what());
    }
  });
  const std::string error = started_future.get();
  if (!error.empty()) {
    core_->loop.join();
    throw PoolError("the pool could not start: " + error);
  }
}

Pool::~Pool() { shutdown(true, false); }

unsigned Pool::workers() const { return core_->workers; }
const std::string& Pool::containment() const { return core_->containment; }

void Pool::shutdown(bool wait, bool cancel_pending, bool kill_running) {
  {
    std::lock_guard<std::mutex> lock(core_->m);
    if (!core_->stop_requested) {
      core_->stop_requested = true;
      core_->cancel_pending = cancel_pending;
      core_->kill_running = kill_running;
    }
  }
  core_->wake();
  if (wait && core_->loop.joinable() && core_->loop.get_id() != std::this_thread::get_id()) core_->loop.join();
  if (!wait) return;
  std::shared_ptr<detail::CallbackRunner> runner;
  {
    std::lock_guard<std::mutex> lock(core_->runner_m);
    runner = core_->runner;
  }
  if (runner) runner->drain();  // the callbacks of every future shutdown waited for have run
}

namespace {
uint8_t kind_id(const detail::PoolCore& core, const std::string& kind) {
  if (auto it = core.kind_ids.find(kind); it != core.kind_ids.end()) return it->second;
  if (auto it = core.unavailable.find(kind); it != core.unavailable.end())
    throw PoolError(kind + " is not available: " + it->second + " (set Options::kind_options)");
  throw PoolError("unknown task kind '" + kind + "'");
}
}  // namespace

TaskFuture Pool::submit(const std::string& kind, std::string input) {
  const uint8_t id = kind_id(*core_, kind);
  TaskFuture f = detail::FutureAccess::make(core_);
  core_->post({id, std::move(input), 0, f.state_});
  return f;
}

LazyResults Pool::lazy(const std::string& kind, LazyResults::Source source, std::size_t buffersize, bool ordered) {
  const uint8_t id = kind_id(*core_, kind);
  if (buffersize == 0) buffersize = 16 * std::max(1u, workers());
  return LazyResults(core_, id, std::move(source), buffersize, ordered);
}

LazyResults::LazyResults(std::shared_ptr<detail::PoolCore> core, uint8_t kind, Source source, std::size_t buffersize,
                         bool ordered)
    : core_(std::move(core)), kind_(kind), source_(std::move(source)), buffersize_(buffersize), ordered_(ordered) {
  if (!ordered_) queue_ = std::make_shared<ResultStream::Queue>();
}

// Takes inputs while there is room; a throw of the range ends the inputs and waits in
// error_ for the results before it to be read.
void LazyResults::top_up() {
  while (!exhausted_ && in_flight_ < buffersize_) {
    std::optional<std::string> input;
    try {
      input = source_();
    } catch (...) {
      error_ = std::current_exception();
      exhausted_ = true;
      break;
    }
    if (!input) {
      exhausted_ = true;
      break;
    }
    TaskFuture f = detail::FutureAccess::make(core_, next_index_++, queue_);
    core_->post({kind_, std::move(*input), 0, f.state_});
    ++in_flight_;
    if (ordered_) in_order_.push_back(std::move(f));
  }
}

std::optional<Result> LazyResults::next() {
  top_up();
  if (in_flight_ == 0) {
    if (!error_) return std::nullopt;
    std::exception_ptr error = std::exchange(error_, nullptr);
    std::rethrow_exception(error);
  }
  std::optional<Result> r;
  if (ordered_) {
    const TaskFuture f = std::move(in_order_.front());
    in_order_.pop_front();
    r = f.get();
  } else {
    std::unique_lock<std::mutex> lock(queue_->m);
    queue_->cv.wait(lock, [&] { return !queue_->ready.empty(); });
    r = std::move(queue_->ready.front());
    queue_->ready.pop_front();
  }
  --in_flight_;
  return r;
}

std::vector<TaskFuture> Pool::submit_chunks(const std::string& kind, const std::vector<std::string>& inputs,
                                            std::size_t chunksize, const std::shared_ptr<ResultStream::Queue>& stream) {
  const uint8_t id = kind_id(*core_, kind);
  if (chunksize == 0) chunksize = 1;
  std::vector<TaskFuture> futures;
  for (std::size_t first = 0; first < inputs.size(); first += chunksize) {
    const std::size_t n = std::min(chunksize, inputs.size() - first);
    TaskFuture f = detail::FutureAccess::make(core_, first, stream);
    std::string payload;
    uint16_t flags = 0;
    if (chunksize == 1) {
      payload = inputs[first];
    } else {
      f.state_->chunk = true;
      f.state_->count = n;
      for (std::size_t i = 0; i < n; ++i) ipc::append_chunk_input(payload, inputs[first + i]);
      flags = ipc::kTaskChunk;
    }
    core_->post({id, std::move(payload), flags, f.state_});
    futures.push_back(std::move(f));
  }
  return futures;
}

TimeoutError::TimeoutError(const std::string& what, std::vector<Result> done)
    : std::runtime_error(what), finished(std::move(done)) {}

std::vector<Result> Pool::map(const std::string& kind, const std::vector<std::string>& inputs, std::size_t chunksize,
                              std::chrono::nanoseconds timeout, OnTimeout on_timeout) {
  std::vector<TaskFuture> futures = submit_chunks(kind, inputs, chunksize, nullptr);
  wait_all(futures, timeout, on_timeout);
  std::vector<Result> out(inputs.size());
  for (const TaskFuture& f : futures) {
    std::lock_guard<std::mutex> lock(f.state_->m);
    for (Result& r : f.state_->results) out[r.index] = std::move(r);
  }
  return out;
}

// Waits for every future; when the timeout (non-zero) passes first, timed_out() stops
// those not done and throws.
void Pool::wait_all(std::vector<TaskFuture>& futures, std::chrono::nanoseconds timeout, OnTimeout on_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (timeout.count() == 0) {
      futures[i].wait();
      continue;
    }
    TaskState& state = *futures[i].state_;
    std::unique_lock<std::mutex> lock(state.m);
    if (!state.cv.wait_until(lock, deadline, [&] { return state.done; })) {
      lock.unlock();
      timed_out(futures, i, on_timeout);
    }
  }
}

// A map's timeout passed while futures[from] was not done (those before it are): the
// tasks not done are cancelled (or killed), and what had arrived is thrown with
// TimeoutError, a Result per input.
void Pool::timed_out(std::vector<TaskFuture>& futures, std::size_t from, OnTimeout on_timeout) {
  std::vector<std::size_t> open;  // positions in futures of those not done
  std::vector<std::shared_ptr<TaskState>> states;
  std::size_t inputs = 0;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    inputs += futures[i].state_->count;
    if (i >= from && !futures[i].ready()) {
      open.push_back(i);
      states.push_back(futures[i].state_);
    }
  }
  const std::vector<bool> answers = core_->control(states, on_timeout == OnTimeout::kill);
  std::vector<bool> stopped(futures.size(), false);
  std::size_t cancelled = 0, running = 0;
  for (std::size_t k = 0; k < open.size(); ++k) {
    TaskState& state = *states[k];
    if (answers[k]) {
      stopped[open[k]] = true;
      ++cancelled;
      if (on_timeout == OnTimeout::kill) {  // its result comes as the worker is reaped
        std::unique_lock<std::mutex> lock(state.m);
        state.cv.wait_for(lock, std::chrono::seconds(10), [&] { return state.done; });
      }
    } else if (!state.done_flag.load(std::memory_order_acquire)) {
      ++running;
    }
  }
  std::vector<Result> finished;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (stopped[i]) continue;
    TaskState& state = *futures[i].state_;
    std::lock_guard<std::mutex> lock(state.m);
    if (!state.done) continue;
    if (!state.undivided) {
      finished.insert(finished.end(), state.results.begin(), state.results.end());
      continue;
    }
    std::vector<Result> each = state.chunk ? detail::expand_chunk(state.results.front(), state.count) : state.results;
    for (std::size_t k = 0; k < each.size(); ++k) each[k].index = state.first_index + k;
    finished.insert(finished.end(), std::make_move_iterator(each.begin()), std::make_move_iterator(each.end()));
  }
  std::string what = "map: " + std::to_string(finished.size()) + " of " + std::to_string(inputs) +
                     " results arrived within the timeout; " + std::to_string(cancelled) +
                     (on_timeout == OnTimeout::kill ? " tasks killed or cancelled" : " tasks cancelled");
  if (running != 0) what += ", " + std::to_string(running) + " left running";
  throw TimeoutError(what, std::move(finished));
}

namespace detail {

namespace {
// Pool.map's choice when none is given: a quarter of an even share per worker.
std::size_t chunk_size_for(std::size_t inputs, std::size_t chunksize, unsigned workers) {
  if (chunksize != 0) return chunksize;
  const std::size_t share = 4 * std::size_t{std::max(1u, workers)};
  return std::clamp<std::size_t>((inputs + share - 1) / share, 1, MapRun::kAutoChunkMax);
}

// fn(bytes) for each output of a typed map's task (a chunk's: each of its count);
// throws what the first failure stands for.
void read_outputs(const TaskState& state, const std::function<void(std::string_view)>& fn) {
  const Result& r = state.results.front();
  r.throw_if_failed();
  if (!state.chunk) {
    fn(r.output);
    return;
  }
  std::size_t seen = 0;
  const bool well_formed = ipc::for_each_chunk_output(r.output, [&](bool ok, uint8_t, std::string_view bytes) {
    if (!ok) throw TaskFailed(Status::error, std::string(bytes), r.attempts);
    if (++seen <= state.count) fn(bytes);
  });
  if (!well_formed || seen != state.count)
    throw TaskFailed(Status::error, "malformed chunk output from the worker", r.attempts);
}
}  // namespace

MapRun::MapRun(Pool& pool, const char* kind, std::size_t inputs, std::size_t chunksize, std::chrono::nanoseconds timeout,
               OnTimeout on_timeout)
    : pool_(pool),
      kind_(kind_id(*pool.core_, kind)),
      chunksize_(chunk_size_for(inputs, chunksize, pool.workers())),
      timeout_(timeout),
      on_timeout_(on_timeout) {
  futures_.reserve((inputs + chunksize_ - 1) / chunksize_);
}

void MapRun::send() {
  TaskFuture& f = futures_.emplace_back(FutureAccess::make(pool_.core_, first_));
  f.state_->count = count_;
  f.state_->chunk = chunksize_ > 1;
  f.state_->undivided = true;
  first_ += count_;
  count_ = 0;
  pool_.core_->post({kind_, std::exchange(payload_, {}), f.state_->chunk ? ipc::kTaskChunk : uint16_t{0}, f.state_});
}

void MapRun::outputs(const std::function<void(std::string_view)>& fn) {
  if (count_ != 0) send();
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::exception_ptr failure;
  for (std::size_t i = 0; i < futures_.size(); ++i) {
    TaskState& state = *futures_[i].state_;
    if (timeout_.count() == 0) {
      futures_[i].wait();
    } else {
      std::unique_lock<std::mutex> lock(state.m);
      if (!state.cv.wait_until(lock, deadline, [&] { return state.done; })) {
        lock.unlock();
        pool_.timed_out(futures_, i, on_timeout_);
      }
    }
    if (failure) continue;  // the rest are waited for, not read
    try {
      read_outputs(state, fn);  // done: its results no longer change
    } catch (const TaskFailed&) {
      failure = std::current_exception();
    }
    if (timeout_.count() == 0) state.results.clear();  // no TimeoutError can need them now
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace detail

ResultStream Pool::map_unordered(const std::string& kind, const std::vector<std::string>& inputs, std::size_t chunksize) {
  ResultStream stream;
  stream.queue_ = std::make_shared<ResultStream::Queue>();
  stream.queue_->remaining = inputs.size();
  submit_chunks(kind, inputs, chunksize, stream.queue_);
  return stream;
}

std::optional<Result> ResultStream::next() {
  std::unique_lock<std::mutex> lock(queue_->m);
  if (queue_->remaining == 0) return std::nullopt;
  queue_->cv.wait(lock, [&] { return !queue_->ready.empty(); });
  Result r = std::move(queue_->ready.front());
  queue_->ready.pop_front();
  --queue_->remaining;
  return r;
}

Result TaskFuture::get() const {
  wait();
  std::lock_guard<std::mutex> lock(state_->m);
  return state_->results.front();
}

void TaskFuture::wait() const {
  if (!state_) throw PoolError("an empty TaskFuture");
  if (state_->done_flag.load(std::memory_order_acquire)) return;
  if (!core_ || !core_->await_directly(*state_, std::chrono::steady_clock::time_point::max())) detail::spin_until_done(*state_);
  std::unique_lock<std::mutex> lock(state_->m);
  state_->cv.wait(lock, [&] { return state_->done; });
}

bool TaskFuture::wait_for(std::chrono::nanoseconds timeout) const {
  if (!state_) throw PoolError("an empty TaskFuture");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!state_->done_flag.load(std::memory_order_acquire) && timeout.count() > 0 && core_) core_->await_directly(*state_, deadline);
  std::unique_lock<std::mutex> lock(state_->m);
  return state_->cv.wait_until(lock, deadline, [&] { return state_->done; });
}

bool TaskFuture::ready() const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->m);
  return state_->done;
}

bool TaskFuture::cancel() {
  if (!state_ || ready()) return false;
  return core_->control({state_}, false).front();
}

void TaskFuture::on_done(std::function<void(const Result&)> fn) {
  if (!state_) throw PoolError("an empty TaskFuture");
  std::shared_ptr<detail::CallbackRunner> runner = core_->callback_runner();
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (!state_->done) {
      state_->runner = std::move(runner);
      state_->callbacks.push_back(std::move(fn));
      return;
    }
  }
  runner->post([fn = std::move(fn), result = get()] { fn(result); });
}

bool TaskFuture::kill() {
  if (!state_ || ready()) return false;
  if (!core_->control({state_}, true).front()) return false;
  if (!wait_for(std::chrono::seconds(10))) return true;  // a SIGKILL that took this long: it ends cancelled yet
  std::lock_guard<std::mutex> lock(state_->m);
  return state_->results.front().status == Status::cancelled;
}

}  // namespace procpool
