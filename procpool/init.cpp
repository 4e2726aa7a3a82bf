#include <cstdlib>

#include "child/worker.hpp"
#include "procpool/task.hpp"

namespace procpool {

KindRegistry& program_kinds() {
  static KindRegistry registry;  // filled by PROCPOOL_TASK during static initialisation
  return registry;
}

void init(int argc, char** argv) {
  if (!is_child_invocation(argc, argv)) return;
  KindRegistry registry;
  register_builtin_kinds(registry);
  for (const KindInfo* kind : program_kinds().all()) registry.add(*kind);
  std::exit(run_child(argc, argv, registry));
}

}  // namespace procpool
