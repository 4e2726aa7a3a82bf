#pragma once
// run's printing of exec's commands' output: the supervisor's side of exec_spool.hpp.
// A job's stdout goes to run's stdout and its stderr to run's stderr when it ends, the
// one after the other and each whole (GNU parallel's --group), in the order jobs end or
// with --keep-order in input order; --line-buffer prints whole lines while jobs run;
// --tag begins each line with the job's input and a tab. With --results - (stdout holds
// the result lines) a command's stdout is only in its result, cut at --max-output-kb.
#include <memory>

#include "ipc/kind_options.hpp"
#include "ipc/kind_schema.hpp"

namespace procpool::kinds {

// Makes the private spool folder (0700, in --tmpdir, else $TMPDIR, else /tmp) and sets
// options' tmpdir to it for the workers; null with --ungroup (nothing is spooled). Throws
// std::invalid_argument when the folder cannot be made.
std::unique_ptr<RunPrinter> make_exec_printer(KindOptions& options, bool results_on_stdout);

}  // namespace procpool::kinds
