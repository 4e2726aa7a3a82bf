// procpool._procpool: the engine inside a Python program, and the worker loop inside each
// of its workers (fresh interpreters of the same Python).
//
// Caller: Pool wraps procpool::Pool (its supervisor loop on a thread of its own). Every
// call that may wait (start-up, shutdown) releases the GIL, because the settler's thread
// takes the GIL to settle the tasks' Python futures: holding it while waiting for that
// thread would deadlock.
// Worker: run_worker() runs procpool's worker loop with one task kind, "python", whose
// tasks are pickled calls handed to a Python function of the package (_worker.py).
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "child/worker.hpp"
#include "procpool/pool.hpp"
#include "procpool/task.hpp"

namespace py = pybind11;

namespace {

constexpr const char* kKind = "python";

// The worker's handler: bytes in, bytes out. Held for the process's life (never
// destroyed: a Python object must not outlive the interpreter's finalisation).
py::object* worker_handler = nullptr;

class PythonCallKind final : public procpool::TaskKind {
 public:
  void run(std::string_view input, procpool::TaskOutput& out) override {
    py::gil_scoped_acquire gil;
    try {
      // (ok, bytes): the value pickled, or the failure's traceback text, a NUL and the
      // exception pickled (_worker.py), which the caller raises.
      const py::tuple result = (*worker_handler)(py::bytes(input.data(), input.size()));
      auto data = std::string(result[1].cast<py::bytes>());
      if (result[0].cast<bool>()) {
        out.data = std::move(data);
      } else {
        out.fail(std::move(data));
      }
    } catch (py::error_already_set& e) {  // the handler itself failed (it catches the call's errors)
      out.fail(std::string("the worker's handler failed: ") + e.what());
    }
  }
};

// The kind, as the program's own (procpool/task.hpp): the caller's Pool defines it for its
// workers beside the built-in kinds, and a worker finds every kind the pool defined.
void register_python_kind() {
  procpool::program_kinds().add({kKind, "a pickled Python call", [](const procpool::KindOptions&) {
                                   return std::make_unique<PythonCallKind>();
                                 }});
}

int run_worker(std::vector<std::string> argv, const py::object& handler) {
  worker_handler = new py::object(handler);  // NOLINT: deliberately immortal, see above
  procpool::KindRegistry registry;
  procpool::register_builtin_kinds(registry);
  for (const procpool::KindInfo* kind : procpool::program_kinds().all()) registry.add(*kind);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  py::gil_scoped_release nogil;  // the loop waits for tasks; each task takes the GIL
  return procpool::run_child(static_cast<int>(argv.size()), args.data(), registry);
}

// Results reach Python in batches: the pool's callback thread only queues them (it never
// waits for the GIL), and this thread takes the GIL once for all that queued meanwhile,
// not once per task (each taking is a hand-off with the thread that submits).
class Settler {
 public:
  struct Done {
    py::object* future;  // owned; deleted under the GIL once settled
    int status;
    std::string data;
    uint32_t attempts;
  };
  Settler() : thread_([this] { run(); }) {}
  ~Settler() { stop(); }
  Settler(const Settler&) = delete;
  Settler& operator=(const Settler&) = delete;

  void add(Done done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(done));
    }
    wake_.notify_one();
  }

  // With the GIL held, on a thread that submits: settles what is queued here and now. A
  // thread that floods submits so settles the results that came meanwhile without ever
  // handing the GIL to the settler's thread (each hand-off is two context switches), and
  // tells that thread to leave the queue to it for a while.
  void drain() {
    drains_.fetch_add(1, std::memory_order_relaxed);
    if (draining_) return;  // a callback that submits: the outer drain goes on after it
    std::vector<Done> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    settle(batch, true);
  }

  // Settles what is queued, then ends the thread. Never with the GIL held: the thread
  // needs it to finish.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // A thread that drained since the settler's thread last looked is likely to drain
  // again soon: that thread then waits this long before it takes the GIL from it, and
  // looks again. A program that waits elsewhere (concurrent.futures.wait, as_completed)
  // drains nothing, so its results are settled at once.
  static constexpr std::chrono::microseconds kGrace{300};

  // Under the GIL. draining_ (read and written only under the GIL) keeps a callback that
  // submits from settling inside a settle.
  // A KeyboardInterrupt (or SystemExit) raised in a done-callback while a submitting
  // thread drains is the user's, not a settling error: the batch is settled to its end
  // (nothing lost), then it is raised again from the submit (rethrow). On the settler's
  // own thread it has nowhere to go but the unraisable hook.
  void settle(std::vector<Done>& batch, bool rethrow) {
    draining_ = true;
    std::optional<py::error_already_set> interrupted;
    for (Done& d : batch) {
      try {
        d.future->attr("_settle")(d.status, py::bytes(d.data), d.attempts);
      } catch (py::error_already_set& e) {
        if (rethrow && !interrupted && !e.matches(PyExc_Exception)) {
          interrupted.emplace(std::move(e));
        } else {
          e.discard_as_unraisable("procpool: settling a future");
        }
      }
      delete d.future;
    }
    draining_ = false;
    if (interrupted) throw std::move(*interrupted);
  }

  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and all settled
      const uint64_t drains = drains_.load(std::memory_order_relaxed);
      if (!stopping_ && drains != drains_seen_) {
        drains_seen_ = drains;
        wake_.wait_for(lock, kGrace, [&] { return stopping_; });
        continue;  // drained meanwhile, or looked at again
      }
      std::vector<Done> batch;
      batch.swap(queue_);
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        settle(batch, false);
      }
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Done> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  bool draining_ = false;    // under the GIL
  std::atomic<uint64_t> drains_{0};  // drain() calls: only whether it moved matters
  uint64_t drains_seen_ = 0;         // the settler's thread only
  std::thread thread_;       // last: started once the rest is ready
};

// What a process inherits by fork() from one that ran a pool (a multiprocessing worker
// forked by the standard pool, os.fork()) holds the pool's objects but none of its
// threads: destroying them there would wait for those threads for ever (a condition
// variable's destroy waits for its sleepers). So each object remembers the process that
// made it, and is left undestroyed in any other; that child's memory goes with it.
bool made_here(pid_t maker) { return getpid() == maker; }

// A task's handle: a capsule, not a class instance, because pybind11 registers each
// instance in a process-wide table (3% of a flood of submits went to that table).
constexpr const char* kHandleName = "procpool.task";

struct Handle {
  procpool::TaskFuture future;
  pid_t maker = getpid();
};

py::capsule make_handle(const procpool::TaskFuture& future) {
  return py::capsule(new Handle{future}, kHandleName, [](PyObject* o) {
    auto* handle = static_cast<Handle*>(PyCapsule_GetPointer(o, kHandleName));
    if (handle != nullptr && made_here(handle->maker)) delete handle;
  });
}

procpool::TaskFuture& task_of(const py::capsule& handle) {
  if (std::string_view(handle.name() ? handle.name() : "") != kHandleName)
    throw py::type_error("not a procpool task handle");
  Handle* h = handle.get_pointer<Handle>();
  if (!made_here(h->maker)) throw std::runtime_error("a procpool task belongs to the process that submitted it");
  return h->future;
}

class PyPool {
 public:
  PyPool(unsigned workers, unsigned max_attempts, double timeout_s, uint64_t max_tasks_per_child,
         uint64_t max_memory_per_child, uint64_t hard_memory_per_child, unsigned max_procs_per_child,
         std::string executable, std::vector<std::string> executable_args, std::string initializer) {
    procpool::Options o;
    o.workers = workers;
    o.max_attempts = max_attempts;
    o.task_timeout = std::chrono::nanoseconds(static_cast<int64_t>(timeout_s * 1e9));
    o.max_tasks_per_child = max_tasks_per_child;
    o.max_memory_per_child = max_memory_per_child;
    o.hard_memory_per_child = hard_memory_per_child;
    o.max_procs_per_child = max_procs_per_child;
    o.executable = std::move(executable);
    o.executable_args = std::move(executable_args);
    if (!initializer.empty()) {
      o.initializer = kKind;
      o.initializer_input = std::move(initializer);
    }
    py::gil_scoped_release nogil;  // the workers start: tens of milliseconds
    pool_ = std::make_unique<procpool::Pool>(std::move(o));
  }
  ~PyPool() {
    if (!made_here(maker_)) {  // a forked child's copy: the threads it would stop are not here
      static_cast<void>(pool_.release());
      static_cast<void>(settler_.release());
      return;
    }
    try {
      close(true, true);
    } catch (...) {  // a destructor: the pool's own destructor still stops what is left
    }
  }
  PyPool(const PyPool&) = delete;
  PyPool& operator=(const PyPool&) = delete;

  unsigned workers() const { return pool_ ? pool_->workers() : 0; }

  // Queues a pickled call; future._settle(status, data, attempts) runs with the GIL once
  // it has its result (on the settler's thread, or on a thread that submits: drain()).
  // Returns the task's handle for the functions below. The future is held, not a closure
  // over it: one object fewer for Python's garbage collector per task in flight.
  py::capsule submit(const py::bytes& call, const py::object& py_future) {
    if (!pool_) throw std::runtime_error("cannot schedule new futures after shutdown");
    check_made_here();
    settler_->drain();  // first: a KeyboardInterrupt it raises leaves nothing half-submitted
    std::string input = call;
    procpool::TaskFuture future;
    {
      py::gil_scoped_release nogil;  // an idle pool's submit writes the worker's ring itself
      future = pool_->submit(kKind, std::move(input));
    }
    auto held = new py::object(py_future);  // released under the GIL once settled
    py::capsule handle = make_handle(future);
    future.on_done([held, settler = settler_.get()](const procpool::Result& r) {
      settler->add({held, static_cast<int>(r.status), r.ok() ? r.output : r.error, r.attempts});
    });
    return handle;
  }

  void close(bool wait, bool cancel_pending, bool kill_running = false) {
    if (!pool_) return;
    check_made_here();
    py::gil_scoped_release nogil;
    pool_->shutdown(wait, cancel_pending, kill_running);
    if (!wait) return;
    pool_.reset();     // every result handed to the settler by now
    settler_->stop();  // and every future settled when close returns
  }

 private:
  void check_made_here() const {
    if (!made_here(maker_))
      throw std::runtime_error("this procpool pool belongs to process " + std::to_string(maker_) +
                               ", not to a child forked from it: make a pool in the child");
  }

  pid_t maker_ = getpid();
  std::unique_ptr<Settler> settler_ = std::make_unique<Settler>();  // outlives pool_'s callbacks
  std::unique_ptr<procpool::Pool> pool_;
};

// The caller's thread waits for its task's result itself (GIL released), woken by the
// pool's loop that fulfils it: two fewer thread hops than through the callback thread
// and the settler. timeout < 0: no limit. True once the result is in. Waits in slices,
// taking the GIL between them to run Python's signal handlers: Ctrl-C raises
// KeyboardInterrupt here, as it does in threading's waits, not when the task ends.
bool wait(const py::capsule& handle, double timeout) {
  using clock = std::chrono::steady_clock;
  constexpr auto kSlice = std::chrono::milliseconds(50);
  procpool::TaskFuture& f = task_of(handle);
  const bool forever = timeout < 0 || timeout > 1e9;  // beyond 31 years: as good as none (no overflow)
  const auto deadline =
      forever ? clock::time_point::max()
              : clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout));
  for (;;) {
    const auto now = clock::now();
    const auto slice = forever ? kSlice : std::min<clock::duration>(kSlice, std::max(deadline - now, clock::duration(0)));
    bool done = false;
    {
      py::gil_scoped_release nogil;
      done = f.wait_for(slice);
    }
    if (done) return true;
    if (!forever && clock::now() >= deadline) return false;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

// (status, data, attempts) of a task whose result is in (wait() said so).
py::tuple outcome(const py::capsule& handle) {
  procpool::TaskFuture& f = task_of(handle);
  procpool::Result r;
  {
    py::gil_scoped_release nogil;
    r = f.get();
  }
  return py::make_tuple(static_cast<int>(r.status), py::bytes(r.ok() ? r.output : r.error), r.attempts);
}

bool cancel(const py::capsule& handle) {
  procpool::TaskFuture& f = task_of(handle);
  py::gil_scoped_release nogil;
  return f.cancel();
}

bool kill(const py::capsule& handle) {
  procpool::TaskFuture& f = task_of(handle);
  py::gil_scoped_release nogil;
  return f.kill();
}

}  // namespace

PYBIND11_MODULE(_procpool, m) {
  m.doc() = "procpool's engine for the procpool Python package (see procpool/__init__.py)";
  register_python_kind();
  m.attr("STATUS_OK") = static_cast<int>(procpool::Status::ok);
  m.attr("STATUS_ERROR") = static_cast<int>(procpool::Status::error);
  m.attr("STATUS_CRASHED") = static_cast<int>(procpool::Status::crashed);
  m.attr("STATUS_TIMEOUT") = static_cast<int>(procpool::Status::timeout);
  m.attr("STATUS_CANCELLED") = static_cast<int>(procpool::Status::cancelled);
  m.def("run_worker", &run_worker, py::arg("argv"), py::arg("handler"));
  py::register_exception<procpool::PoolError>(m, "PoolError", PyExc_RuntimeError);
  m.def("wait", &wait, py::arg("task"), py::arg("timeout"));
  m.def("outcome", &outcome, py::arg("task"));
  m.def("cancel", &cancel, py::arg("task"));
  m.def("kill", &kill, py::arg("task"));
  py::class_<PyPool>(m, "Pool")
      .def(py::init<unsigned, unsigned, double, uint64_t, uint64_t, uint64_t, unsigned, std::string,
                    std::vector<std::string>, std::string>(),
           py::arg("workers"), py::arg("max_attempts"), py::arg("timeout"), py::arg("max_tasks_per_child"),
           py::arg("max_memory_per_child"), py::arg("hard_memory_per_child"), py::arg("max_procs_per_child"),
           py::arg("executable"), py::arg("executable_args"), py::arg("initializer"))
      .def_property_readonly("workers", &PyPool::workers)
      .def("submit", &PyPool::submit, py::arg("call"), py::arg("future"))
      .def("close", &PyPool::close, py::arg("wait"), py::arg("cancel_pending"), py::arg("kill_running") = false);
}
