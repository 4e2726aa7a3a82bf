// A test plugin with one kind, for the Redis tests: a job that takes its whole host down.
// Kept apart from misbehaving_kinds.cpp, whose bad-start kind stops any `serve` that loads
// it.
//
//   kill-supervisor  SIGKILLs the worker's parent (the supervisor), then waits to die
//                    with it (workers die with their supervisor: PR_SET_PDEATHSIG)
#include <signal.h>
#include <unistd.h>

#include <memory>

#include "child/task_api.hpp"

namespace {

class KillSupervisor final : public procpool::TaskKind {
 public:
  void run(std::string_view, procpool::TaskOutput&) override {
    kill(getppid(), SIGKILL);
    for (;;) pause();
  }
};

}  // namespace

PROCPOOL_PLUGIN(registry) {
  registry.add({"kill-supervisor", "SIGKILLs its supervisor (test plugin)",
                [](const procpool::KindOptions&) { return std::make_unique<KillSupervisor>(); }});
}
