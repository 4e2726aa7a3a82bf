#pragma once
// `procpool run KIND [INPUT...]`: the batch job.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "ipc/kind_options.hpp"
#include "ipc/kind_schema.hpp"
#include "supervisor/batch/halt.hpp"
#include "supervisor/batch/input_sources.hpp"
#include "supervisor/engine/supervisor.hpp"
#include "supervisor/observe/timeline.hpp"

namespace procpool::supervisor {

// A mistake in how the command was called: exit status 2 with this message.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunRequest {
  std::string kind;
  std::vector<std::string> inputs;
  std::string input_file;    // "-" for stdin, empty for none
  std::vector<InputSource> sources;  // ":::" and "::::" (input_sources.hpp)
  InputShape shape;          // -0, --colsep, -n, --link
  std::string results_path;  // "-" for stdout, empty for none
  bool resume = false;       // skip inputs already ok in results_path (or run in joblog_path), append the rest
  bool resume_failed = false;  // with joblog_path: run again the inputs that failed in it too
  std::string joblog_path;   // --joblog: GNU parallel's format ("+FILE" appends); empty: none
  HaltPolicy halt;           // --halt: stop the run early (GNU parallel's)
  bool dry_run = false;      // print what each task would do (KindHooks::describe); run none
  KindSchema schema;         // the kind's: its hooks expand the inputs and reduce the outputs
  KindOptions options;       // the kind's options, checked and canonical (run-side ones too)
  // --redis: the options given on the command line that go to the workers, as given: they
  // travel with every entry, and each host lays them over its own config and checks them.
  KindOptions remote_options;
  PoolOptions pool;          // workers, limits, plugins (absolute paths)
  bool progress = true;      // shown only while stderr is a terminal anyway
  bool summary = true;
  // A second kind each ok result feeds as it arrives (a pipeline: download, then
  // thumbnail). Its input is the first kind's output "path" (or the whole output).
  std::string then_kind;
  KindSchema then_schema;
  KindOptions then_options;
  std::string timeline_path;  // draw the run as SVG into this file at the end; empty: no
};

// `procpool timeline RESULTS.jsonl -o OUT.svg`: draws an earlier run from its results
// file. Returns 0; throws std::runtime_error when it cannot read or write.
int draw_timeline(const std::string& results_path, const std::string& svg_path);

// What would otherwise fail after the whole run (--timeline's file) or once per task (an
// output folder): checked before the first task; throws UsageError naming the path.
void check_before_run(const RunRequest& request);
// Only --timeline's file (a run --redis, whose kinds' outputs are the hosts').
void check_timeline_path(const RunRequest& request);

// The picture of a run into path ("-": stdout), through a temporary renamed into place.
// Throws std::runtime_error when it cannot be written.
void write_timeline(const std::string& path, const std::vector<TimelineTask>& tasks, const std::string& title);

// The inputs the run will give its tasks: the arguments, --input-file, expanded by the
// kind's hook (a folder's images, a range split), less what --resume finds done (then
// empty when everything is). Throws UsageError when there are none to begin with.
// seqs (when given) gets each input's number, 1, 2, ... in the order given: after a
// resume from a joblog, the numbers of those that are left.
std::vector<std::string> inputs_to_run(const RunRequest& request, std::vector<uint64_t>* seqs = nullptr);

// Where result lines go: --results FILE (created owner-only, appended with --resume),
// "-" for stdout, or nowhere (stream() null). Throws UsageError when it cannot be opened.
class ResultsFile {
 public:
  explicit ResultsFile(const RunRequest& request);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;
  std::FILE* stream() const { return stream_; }

 private:
  std::FILE* stream_ = nullptr;
  std::FILE* owned_ = nullptr;
};

// Runs the job and returns the exit status: 0 all ok, 1 any task not ok or the pool
// failed, 128 + signal after SIGINT/SIGTERM. Throws UsageError for exit status 2. The
// entry point has checked the kinds and their options (they exist, and canonical).
int run_batch(const RunRequest& request);

}  // namespace procpool::supervisor
