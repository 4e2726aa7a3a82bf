// The procpool executable: a pool's supervisor (the command line) or, when a supervisor
// re-executes it in child mode, one of its workers.
#include <cstdio>
#include <exception>

#include "child/task_api.hpp"
#include "child/worker.hpp"
#include "supervisor/cli/cli.hpp"

int main(int argc, char** argv) {
  procpool::KindRegistry registry;
  procpool::register_builtin_kinds(registry);
  if (procpool::is_child_invocation(argc, argv)) return procpool::run_child(argc, argv, registry);
  try {
    return procpool::cli::run(argc, argv, registry);
  } catch (const std::exception& e) {  // each command reports its own errors; this is a last resort
    std::fprintf(stderr, "procpool: %s\n", e.what());
    return 1;
  }
}
