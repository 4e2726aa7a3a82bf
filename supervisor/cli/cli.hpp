#pragma once
// The `procpool` command line. It is an entry point: it brings the supervisor and the
// child's kind registry together (to validate kinds and options before starting a pool).
#include "child/task_api.hpp"

namespace procpool::cli {

// Parses argv and runs the chosen command; returns the process exit status.
int run(int argc, char** argv, const KindRegistry& registry);

}  // namespace procpool::cli
