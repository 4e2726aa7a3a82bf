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

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <memory>
#include <string>
#include <vector>

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
    py::object* callback;  // owned; deleted under the GIL once called
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
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and all settled
      std::vector<Done> batch;
      batch.swap(queue_);
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        for (Done& d : batch) {
          try {
            (*d.callback)(d.status, py::bytes(d.data), d.attempts);
          } catch (py::error_already_set& e) {
            e.discard_as_unraisable("procpool: settling a future");
          }
          delete d.callback;
        }
      }
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Done> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::thread thread_;       // last: started once the rest is ready
};

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
    try {
      close(true, true);
    } catch (...) {  // a destructor: the pool's own destructor still stops what is left
    }
  }
  PyPool(const PyPool&) = delete;
  PyPool& operator=(const PyPool&) = delete;

  unsigned workers() const { return pool_ ? pool_->workers() : 0; }

  // Queues a pickled call; done(status, data, attempts) runs on the settler's thread (with
  // the GIL) once it has its result. Returns a handle for cancel()/kill().
  std::shared_ptr<procpool::TaskFuture> submit(const py::bytes& call, const py::object& done) {
    if (!pool_) throw std::runtime_error("cannot schedule new futures after shutdown");
    std::string input = call;
    auto callback = new py::object(done);  // released under the GIL in the callback
    procpool::TaskFuture future;
    {
      py::gil_scoped_release nogil;  // an idle pool's submit writes the worker's ring itself
      future = pool_->submit(kKind, std::move(input));
    }
    auto handle = std::make_shared<procpool::TaskFuture>(future);
    future.on_done([callback, settler = settler_.get()](const procpool::Result& r) {
      settler->add({callback, static_cast<int>(r.status), r.ok() ? r.output : r.error, r.attempts});
    });
    return handle;
  }

  void close(bool wait, bool cancel_pending, bool kill_running = false) {
    if (!pool_) return;
    py::gil_scoped_release nogil;
    pool_->shutdown(wait, cancel_pending, kill_running);
    if (!wait) return;
    pool_.reset();     // every result handed to the settler by now
    settler_->stop();  // and every future settled when close returns
  }

 private:
  std::unique_ptr<Settler> settler_ = std::make_unique<Settler>();  // outlives pool_'s callbacks
  std::unique_ptr<procpool::Pool> pool_;
};

// The caller's thread waits for its task's result itself (GIL released), woken by the
// pool's loop that fulfils it: two fewer thread hops than through the callback thread
// and the settler. timeout < 0: no limit. True once the result is in.
bool wait(const std::shared_ptr<procpool::TaskFuture>& f, double timeout) {
  py::gil_scoped_release nogil;
  if (timeout < 0) {
    f->wait();
    return true;
  }
  return f->wait_for(std::chrono::nanoseconds(static_cast<int64_t>(timeout * 1e9)));
}

// (status, data, attempts) of a task whose result is in (wait() said so).
py::tuple outcome(const std::shared_ptr<procpool::TaskFuture>& f) {
  procpool::Result r;
  {
    py::gil_scoped_release nogil;
    r = f->get();
  }
  return py::make_tuple(static_cast<int>(r.status), py::bytes(r.ok() ? r.output : r.error), r.attempts);
}

bool cancel(const std::shared_ptr<procpool::TaskFuture>& f) {
  py::gil_scoped_release nogil;
  return f->cancel();
}

bool kill(const std::shared_ptr<procpool::TaskFuture>& f) {
  py::gil_scoped_release nogil;
  return f->kill();
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
  py::class_<procpool::TaskFuture, std::shared_ptr<procpool::TaskFuture>>(m, "Task")
      .def("wait", &wait, py::arg("timeout"))
      .def("outcome", &outcome)
      .def("cancel", &cancel)
      .def("kill", &kill);
  py::class_<PyPool>(m, "Pool")
      .def(py::init<unsigned, unsigned, double, uint64_t, uint64_t, uint64_t, unsigned, std::string,
                    std::vector<std::string>, std::string>(),
           py::arg("workers"), py::arg("max_attempts"), py::arg("timeout"), py::arg("max_tasks_per_child"),
           py::arg("max_memory_per_child"), py::arg("hard_memory_per_child"), py::arg("max_procs_per_child"),
           py::arg("executable"), py::arg("executable_args"), py::arg("initializer"))
      .def_property_readonly("workers", &PyPool::workers)
      .def("submit", &PyPool::submit, py::arg("call"), py::arg("done"))
      .def("close", &PyPool::close, py::arg("wait"), py::arg("cancel_pending"), py::arg("kill_running") = false);
}
