#include "supervisor/batch/run.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <fstream>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <optional>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "ipc/clock.hpp"
#include "ipc/status.hpp"
#include "supervisor/batch/feeder.hpp"
#include "supervisor/batch/input_stream.hpp"
#include "supervisor/batch/intake.hpp"
#include "supervisor/batch/joblog.hpp"
#include "supervisor/engine/admission.hpp"
#include "supervisor/engine/supervisor.hpp"
#include "supervisor/batch/resume.hpp"
#include "supervisor/engine/usable_cores.hpp"
#include "supervisor/observe/report.hpp"
#include "supervisor/observe/timeline.hpp"

namespace procpool::supervisor {

namespace {

class BatchEvents final : public PoolEvents {
 public:
  BatchEvents(std::FILE* results, std::vector<std::string> kind_names, bool progress, uint64_t start_ns)
      : results_(results), kind_names_(std::move(kind_names)), progress_(progress),
        start_ns_(start_ns), stats_(start_ns) {}

  // With a second kind: each ok result of the first becomes a task of the second.
  void feed_into(Supervisor* pool) { then_pool_ = pool; }

  void on_result(const Completion& c) override {
    stats_.add(c);
    say_if_too_big(c);
    count_for_halt(c);
    if (joblog_ != nullptr && c.kind == 0 && c.attempts > 0) log_job(c);
    if (timeline_ != nullptr) {
      TimelineTask t;
      t.worker = c.worker;
      t.pid = c.pid;
      t.kind = kind_names_[c.kind];
      t.status = ipc::status_name(c.status);
      if (c.start_ns != 0) {
        t.start_ms = static_cast<double>(c.start_ns > start_ns_ ? c.start_ns - start_ns_ : 0) / 1e6;
        t.end_ms = std::max(t.start_ms, static_cast<double>(c.end_ns > start_ns_ ? c.end_ns - start_ns_ : 0) / 1e6);
      }
      timeline_->push_back(std::move(t));
    }
    if (reducer_ && c.status == ipc::Status::ok) reducer_->add(c.output);
    if (printer_ != nullptr && c.kind == 0 && !output_closed_) {
      clear_progress();
      if (!printer_->add({c.id, c.attempts, c.status == ipc::Status::ok, c.input, c.pid, c.worker_died}))
        reader_gone();
    }
    if (stdout_line_ && c.kind == 0 && c.status == ipc::Status::ok && results_ != stdout) {
      const std::string line = stdout_line_(c.output);
      if (!line.empty()) {
        make_room_on_terminal();
        std::printf("%s\n", line.c_str());
      }
    }
    if (then_pool_ != nullptr && c.kind == 0 && c.status == ipc::Status::ok) {
      then_pool_->submit(1, next_input(c));
      ++then_submitted_;
    }
    if (results_ != nullptr) {
      if (results_ == stdout) make_room_on_terminal();
      const std::string line = result_json_line(c, kind_names_[c.kind], start_ns_);
      std::fwrite(line.data(), 1, line.size(), results_);
      std::fputc('\n', results_);
    }
  }
  void on_tick() override {
    if (printer_ != nullptr && !output_closed_ && !printer_->tick()) reader_gone();
    say_why_waiting();
    if (results_ != nullptr) std::fflush(results_);
    if (stdout_line_) std::fflush(stdout);
    if (!total_known_ && feeder_ != nullptr && feeder_->all_taken()) total_known_ = true;
    if (progress_) {
      std::fprintf(stderr, "\r%s\033[K", stats_.progress_line(total(), ipc::monotonic_ns(), total_known_).c_str());
      shown_ = true;
    }
  }
  // The first Ctrl-C otherwise looks like nothing happened while long tasks finish, and
  // a user presses it again or reaches for kill -9.
  void on_stop_signal(int signo, bool again) override {
    clear_progress();
    const std::string name = ipc::signal_name(signo);
    if (again)
      std::fprintf(stderr, "procpool: %s again: killing the workers and what they started\n", name.c_str());
    else
      std::fprintf(stderr, "procpool: %s: stopping; running tasks may finish, queued ones are cancelled (%s again "
                   "kills them now)\n", name.c_str(), signo == SIGINT ? "Ctrl-C" : name.c_str());
  }
  void on_idle() override {
    if (joblog_ != nullptr) joblog_->flush();
    if (results_ != nullptr) std::fflush(results_);
  }
  void clear_progress() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }
  // The run's pool, which the printer stops when the reader of its output is gone.
  void print_with(RunPrinter* printer, Supervisor* pool) {
    printer_ = printer;
    pool_ = pool;
  }
  // stdout (or stderr) closed by its reader (`| head -1`): as a pipeline's writer dies of
  // SIGPIPE, the run stops at once, silently; what ran is killed.
  bool output_closed() const { return output_closed_; }
  RunStats& stats() { return stats_; }
  // Tasks of the run: those of the first kind (all of them, when known before the run),
  // and those --then made of their outputs.
  uint64_t total() const { return (expected_ != 0 ? expected_ : submitted_) + then_submitted_; }
  std::unique_ptr<Reducer> reducer_;
  std::function<std::string(std::string_view)> stdout_line_;  // the kind's line per ok result

 private:
  // A line for stdout is about to be written: where stdout is the bar's terminal too, the
  // bar is erased first (and drawn again at the next tick, below the line), else the two
  // share a line. The line goes out at once then, so that the bar never lands before it.
  void make_room_on_terminal() {
    if (!shown_ || !stdout_is_terminal_) return;
    clear_progress();
  }

  // A line of GNU parallel's joblog; its Starttime from the monotonic start.
  void log_job(const Completion& c) {
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    const double now_s = static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9;
    const uint64_t mono = ipc::monotonic_ns();
    const double start_s = now_s - static_cast<double>(mono > c.start_ns ? mono - c.start_ns : 0) / 1e9;
    const double run_s = static_cast<double>(c.end_ns > c.start_ns ? c.end_ns - c.start_ns : 0) / 1e9;
    const int exitval = c.exit_code >= 0 ? c.exit_code : c.status == ipc::Status::ok || c.signal != 0 ? 0 : 1;
    const auto numbered = seqs_.find(c.id);
    const uint64_t seq = numbered != seqs_.end() ? numbered->second : c.id + 1;
    if (numbered != seqs_.end()) seqs_.erase(numbered);  // a finished task leaves nothing behind
    joblog_->add(seq, start_s, run_s, exitval, c.signal, command_(c.input, seq));
  }

  // --halt: the first task that reaches the policy stops the run, and says so.
  void count_for_halt(const Completion& c) {
    if (halt_.when == HaltPolicy::When::never || halted_ || pool_ == nullptr) return;
    const bool failed = c.status == ipc::Status::error || c.status == ipc::Status::crashed ||
                        c.status == ipc::Status::timeout;
    if (failed) {
      ++failed_;
      // The exit status then is the failing command's own, as GNU parallel's is.
      halt_exit_ = c.exit_code > 0 ? c.exit_code : 1;
    } else if (c.status == ipc::Status::ok) {
      ++succeeded_;
    }
    if (!halt_.reached(failed_, succeeded_, total())) return;
    halted_ = true;
    if (halt_.count != HaltPolicy::Count::fail) halt_exit_ = halt_.count == HaltPolicy::Count::success ? 0 : -1;
    clear_progress();
    const bool now = halt_.when == HaltPolicy::When::now;
    std::fprintf(stderr, "procpool: --halt %s: task %llu (%.*s) %s; %s\n", halt_.text().c_str(),
                 static_cast<unsigned long long>(c.id), static_cast<int>(std::min<std::size_t>(c.input.size(), 200)),
                 c.input.data(), ipc::status_name(c.status),
                 now ? "killing the running tasks" : "starting no more, the running ones finish");
    pool_->halt(now);
  }

 public:
  void halt_on(const HaltPolicy& policy) { halt_ = policy; }
  // --memfree: say once when a task is too big to fit beside its reserve.
  void check_fit(uint64_t memfree_bytes) {
    memfree_bytes_ = memfree_bytes;
    memory_total_ = memory_total();
  }
  void log_jobs(Joblog* joblog, std::function<std::string(std::string_view, uint64_t)> command) {
    joblog_ = joblog;
    command_ = std::move(command);
  }
  // A task of the first kind was submitted for the input numbered seq.
  void submitted(uint64_t id, uint64_t seq) {
    ++submitted_;
    if (joblog_ != nullptr) seqs_.emplace(id, seq);
  }
  // The inputs come from feeder; until it has read them all, the total is not known.
  void read_from(const Feeder* feeder) { feeder_ = feeder; }
  // The inputs were read whole before the run: the total is known from the start (and
  // --halt N% counts against it).
  void expect(uint64_t inputs) {
    expected_ = inputs;
    total_known_ = true;
  }
  // After --halt stopped the run: the exit status it gives (-1: the usual one).
  std::optional<int> halt_exit() const { return halted_ ? std::optional<int>(halt_exit_) : std::nullopt; }

 private:
  // Tasks wait for --memfree or --load while nothing runs: said once a wait begins.
  void say_why_waiting() {
    if (pool_ == nullptr) return;
    const std::string why = pool_->waiting_for();
    if (!why.empty() && why_waiting_.empty()) {
      clear_progress();
      std::fprintf(stderr, "procpool: no task starts while the %s\n", why.c_str());
    }
    why_waiting_ = why;
  }

  void say_if_too_big(const Completion& c) {
    if (memfree_bytes_ == 0 || fit_said_) return;
    const std::string note = memfree_fit_note(c.max_rss_kb << 10, memfree_bytes_, memory_total_);
    if (note.empty()) return;
    clear_progress();
    std::fprintf(stderr, "procpool: %s\n", note.c_str());
    fit_said_ = true;
  }

  void reader_gone() {
    output_closed_ = true;
    pool_->halt(true);
  }

  // The output's "path" when it is a JSON object with one (download), else the output.
  static std::string next_input(const Completion& c) {
    if (c.output_is_json) {
      const auto j = nlohmann::json::parse(c.output, nullptr, false);
      if (j.is_object() && j.contains("path") && j["path"].is_string()) return j["path"].get<std::string>();
    }
    return std::string(c.output);
  }

  std::FILE* results_;
  std::vector<std::string> kind_names_;
 public:
  std::vector<TimelineTask>* timeline_ = nullptr;  // collects the run's picture when asked

 private:
  Supervisor* then_pool_ = nullptr;
  RunPrinter* printer_ = nullptr;
  Supervisor* pool_ = nullptr;
  HaltPolicy halt_;
  Joblog* joblog_ = nullptr;
  std::unordered_map<uint64_t, uint64_t> seqs_;  // unfinished tasks' input numbers (Seq), by task id
  std::function<std::string(std::string_view, uint64_t)> command_;
  bool halted_ = false;
  std::string why_waiting_;
  uint64_t memfree_bytes_ = 0, memory_total_ = 0;
  bool fit_said_ = false;
  uint64_t failed_ = 0, succeeded_ = 0;
  int halt_exit_ = 1;
  bool output_closed_ = false;
  uint64_t submitted_ = 0, then_submitted_ = 0, expected_ = 0;
  const Feeder* feeder_ = nullptr;
  bool total_known_ = false;
  bool progress_;
  bool shown_ = false;
  bool stdout_is_terminal_ = isatty(STDOUT_FILENO) != 0;
  uint64_t start_ns_;
  RunStats stats_;
};

void say_left_out(const RunRequest& request, uint64_t left_out, const std::string& example) {
  if (left_out == 0) return;
  std::fprintf(stderr, "procpool: left out %llu %s that %s %s's own output (such as %s)\n",
               static_cast<unsigned long long>(left_out), left_out == 1 ? "input" : "inputs", left_out == 1 ? "is" : "are",
               request.kind.c_str(), example.c_str());
}

void leave_out_own_outputs(const RunRequest& request, std::vector<std::string>& inputs) {
  const auto own = std::stable_partition(inputs.begin(), inputs.end(),
                                         [&](const std::string& input) { return !request.schema.hooks.own_output(input); });
  const auto left_out = static_cast<std::size_t>(inputs.end() - own);
  if (left_out == 0) return;
  say_left_out(request, left_out, *own);
  inputs.erase(own, inputs.end());
}

void say_resumed(const RunRequest& request, uint64_t done, uint64_t given) {
  if (!request.joblog_path.empty())
    std::fprintf(stderr, "procpool: resuming from %s: %llu of %llu inputs done\n", joblog_file(request.joblog_path).c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(given));
  else
    std::fprintf(stderr, "procpool: resuming: %llu of %llu inputs already ok\n", static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(given));
}

// What a streamed run's reading found, said as the whole input's reading says it.
void say_what_was_read(const RunRequest& request, const InputStream& stream) {
  say_left_out(request, stream.left_out(), stream.left_out_example());
  if (stream.resumed()) say_resumed(request, stream.already_done(), stream.given());
  else if (stream.given() == 0) std::fprintf(stderr, "procpool: no inputs in what was given: nothing to do\n");
}

// The inputs read whole before the run (what streams_inputs() refuses), numbered.
std::vector<NumberedInput> numbered_inputs(const RunRequest& request) {
  std::vector<uint64_t> seqs;
  std::vector<std::string> inputs = inputs_to_run(request, &seqs);
  std::vector<NumberedInput> out;
  out.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) out.push_back({std::move(inputs[i]), seqs[i]});
  return out;
}

std::vector<std::string> gather_inputs(const RunRequest& request) {
  std::vector<std::string> inputs = request.inputs;
  if (!request.input_file.empty()) {
    try {
      auto more = read_input_file(request.input_file, request.shape.null);
      inputs.insert(inputs.end(), more.begin(), more.end());
    } catch (const std::runtime_error& e) {
      throw UsageError(e.what());
    }
  }
  const InputShape& shape = request.shape;
  if (!request.sources.empty() || !shape.colsep.empty() || shape.max_args > 1) {
    try {
      inputs = combine_sources(std::move(inputs), request.sources, shape);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    check_values(request, inputs);
  }
  if (request.schema.hooks.expand_inputs)
    inputs = expand_for_kind(request, std::move(inputs), request.pool.workers != 0 ? request.pool.workers : usable_cores());
  if (request.schema.hooks.own_output) leave_out_own_outputs(request, inputs);
  return inputs;
}

// Why path could not be written as a file, or "": its folder must exist and take a new
// file (tried, as write_timeline will: a temporary beside it), and path must not be a folder.
std::string writable_file_problem(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return path + " is a folder, not a file";
  const std::string probe = path + ".tmp";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot write " + path + ": " + std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

}  // namespace

void check_before_run(const RunRequest& request) {
  try {
    if (request.schema.hooks.check_before_run) request.schema.hooks.check_before_run(request.options);
    if (!request.then_kind.empty() && request.then_schema.hooks.check_before_run)
      request.then_schema.hooks.check_before_run(request.then_options);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  check_timeline_path(request);
}

void check_timeline_path(const RunRequest& request) {
  if (request.timeline_path == "-") {
    const bool stdout_taken = request.results_path == "-" || request.schema.hooks.stdout_line ||
                              request.schema.hooks.reducer;
    if (stdout_taken)
      throw UsageError("--timeline -: stdout already carries this run's " +
                       std::string(request.results_path == "-" ? "results" : "output") + "; give a FILE");
  } else if (!request.timeline_path.empty()) {
    const std::string problem = writable_file_problem(request.timeline_path);
    if (!problem.empty()) throw UsageError("--timeline: " + problem);
  }
}

// As the umask allows: an output, as thumbnails are.
void write_timeline(const std::string& path, const std::vector<TimelineTask>& tasks, const std::string& title) {
  const std::string svg = render_timeline_svg(tasks, title);
  if (path == "-") {
    if (std::fwrite(svg.data(), 1, svg.size(), stdout) != svg.size() || std::fflush(stdout) != 0)
      throw std::runtime_error(std::string("cannot write the timeline to stdout: ") + std::strerror(errno));
    return;
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < svg.size()) {
    const ssize_t n = ::write(fd, svg.data() + done, svg.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == svg.size() && ::close(fd) == 0;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  }
}

int draw_timeline(const std::string& results_path, const std::string& svg_path) {
  std::ifstream in(results_path);
  if (!in) throw std::runtime_error("cannot read " + results_path + ": " + std::strerror(errno));
  std::vector<TimelineTask> tasks;
  std::size_t skipped = 0;
  for (std::string line; std::getline(in, line);) {
    TimelineTask t;
    if (timeline_task_from_json(line, &t)) {
      tasks.push_back(std::move(t));
    } else if (!line.empty()) {
      ++skipped;
    }
  }
  if (tasks.empty()) throw std::runtime_error("no result lines in " + results_path);
  if (skipped != 0) std::fprintf(stderr, "procpool timeline: %zu lines that are not results were skipped\n", skipped);
  write_timeline(svg_path, tasks, "procpool run (" + results_path + ")");
  return 0;
}

std::vector<std::string> inputs_to_run(const RunRequest& request, std::vector<uint64_t>* seqs) {
  std::vector<std::string> inputs = gather_inputs(request);
  const std::size_t given = inputs.size();
  ResumeFilter resume(request);
  if (resume.active()) {
    std::vector<std::string> left;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (resume.done(i + 1, inputs[i])) continue;
      left.push_back(std::move(inputs[i]));
      if (seqs != nullptr) seqs->push_back(resume.keeps_seqs() ? i + 1 : left.size());
    }
    say_resumed(request, given - left.size(), given);
    return left;  // empty: nothing left to do
  }
  if (seqs != nullptr)
    for (uint64_t i = 1; i <= given; ++i) seqs->push_back(i);
  // Nothing given is a mistake; something given that holds nothing (an empty file, an
  // empty folder) is a run with nothing to do, as xargs has it: a cron job succeeds.
  if (inputs.empty() && request.inputs.empty() && request.input_file.empty() && request.sources.empty())
    throw UsageError(no_inputs_message(request));
  if (inputs.empty()) std::fprintf(stderr, "procpool: no inputs in what was given: nothing to do\n");
  return inputs;
}

ResultsFile::ResultsFile(const RunRequest& request) {
  if (request.results_path == "-") {
    stream_ = stdout;
  } else if (!request.results_path.empty()) {
    // Created for the owner only; close-on-exec, so children never hold it.
    const int fd = ::open(request.results_path.c_str(),
                          O_WRONLY | O_CREAT | O_CLOEXEC | (request.resume ? O_APPEND : O_TRUNC), 0600);
    if (fd >= 0) owned_ = fdopen(fd, request.resume ? "a" : "w");
    if (fd >= 0 && owned_ == nullptr) ::close(fd);
    if (owned_ == nullptr) throw UsageError("cannot write results to " + request.results_path + ": " + std::strerror(errno));
    stream_ = owned_;
  }
}

ResultsFile::~ResultsFile() {
  if (owned_ != nullptr) std::fclose(owned_);
}

int run_batch(const RunRequest& request) {
  if (!request.then_kind.empty() && request.resume)
    throw UsageError("--resume does not combine with --then (yet): run the steps separately");
  check_before_run(request);
  // Read as the run goes where the run allows it, else whole first (input_stream.hpp).
  std::unique_ptr<InputStream> stream;
  std::unique_ptr<InputFeed> whole;
  if (streams_inputs(request)) stream = std::make_unique<InputStream>(request);
  else whole = std::make_unique<WholeInput>(numbered_inputs(request));
  InputFeed& feed = stream ? static_cast<InputFeed&>(*stream) : *whole;
  // The first inputs before the pool starts: a mistake in them is a usage error, and a
  // run with nothing to do (all resumed, an empty file) starts no worker.
  std::vector<NumberedInput> first;
  bool more = true;
  while (first.empty() && (more = feed.next(first))) {
  }
  const uint64_t whole_count = whole ? first.size() : 0;
  if (request.dry_run) {
    for (;;) {
      for (const NumberedInput& input : first) {
        const std::string line = request.schema.hooks.describe
                                     ? request.schema.hooks.describe(request.options, input.value, input.seq - 1)
                                     : input.value;
        std::printf("%s\n", line.c_str());
      }
      first.clear();
      if (!more || !(more = feed.next(first))) break;
    }
    if (stream) say_what_was_read(request, *stream);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (first.empty()) {  // resumed and all done, or given nothing to do
    if (stream) say_what_was_read(request, *stream);
    if (!request.resume) ResultsFile empty_results(request);  // this run's results: none
    return 0;
  }
  ResultsFile results_file(request);
  std::FILE* results_stream = results_file.stream();

  // The kind's own printing (exec's commands' output); it may add to the workers' options.
  KindOptions options = request.options;
  std::unique_ptr<RunPrinter> printer;
  if (request.schema.hooks.printer) {
    try {
      printer = request.schema.hooks.printer(options, results_stream == stdout);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    // A reader that closed stdout is seen as EPIPE by the printer, which stops the run;
    // commands get SIGPIPE's default again (exec_spawn.hpp).
    if (printer) std::signal(SIGPIPE, SIG_IGN);
  }

  const uint64_t start_ns = ipc::monotonic_ns();
  PoolOptions pool_options = request.pool;
  pool_options.handle_signals = true;  // ^C drains the run, a second ^C kills it
  std::vector<KindSpec> kinds{KindSpec{request.kind, request.schema.run_task_options(options).encode()}};
  std::vector<std::string> kind_names{request.kind};
  if (!request.then_kind.empty()) {
    kinds.push_back(KindSpec{request.then_kind, request.then_schema.run_task_options(request.then_options).encode()});
    kind_names.push_back(request.then_kind);
  }
  Supervisor pool(pool_options, kinds);
  BatchEvents events(results_stream, kind_names, request.progress && isatty(STDERR_FILENO) != 0, start_ns);
  if (whole) events.expect(whole_count);
  if (!request.then_kind.empty()) events.feed_into(&pool);
  std::unique_ptr<Joblog> joblog;
  if (!request.joblog_path.empty()) {
    try {
      joblog = std::make_unique<Joblog>(request.joblog_path, request.resume || request.resume_failed);
    } catch (const std::runtime_error& e) {
      throw UsageError(e.what());
    }
    events.log_jobs(joblog.get(), [&request](std::string_view input, uint64_t seq) {
      return request.schema.hooks.describe ? request.schema.hooks.describe(request.options, input, seq - 1)
                                           : std::string(input);
    });
  }
  // Inputs become tasks while fewer than this many are unfinished: every worker's queue
  // full twice over and a margin, so that reading never starves the pool.
  const uint64_t read_ahead = 4096 + 2ull * pool.workers() * pool_options.max_prefetch;
  Feeder feeder(
      feed,
      [&](Supervisor& to, NumberedInput&& input, uint64_t queued_ns) {
        uint64_t id = 0;
        if (printer) {
          id = to.submit(0, input.value, 0, queued_ns);
          printer->submitted(id, input.value);
        } else {
          id = to.submit(0, std::move(input.value), 0, queued_ns);
        }
        events.submitted(id, input.seq);
      },
      read_ahead);
  feeder.push_front(std::move(first));
  events.read_from(&feeder);
  feeder.start();
  std::vector<TimelineTask> timeline;
  if (!request.timeline_path.empty()) events.timeline_ = &timeline;
  if (request.schema.hooks.reducer) events.reducer_ = request.schema.hooks.reducer(request.options);
  events.stdout_line_ = request.schema.hooks.stdout_line;
  events.print_with(printer.get(), &pool);
  events.halt_on(request.halt);
  events.check_fit(request.pool.admission.memfree_bytes);
  const RunOutcome outcome = pool.serve(events, feeder);
  feeder.stop();  // a halt, a signal or a failed pool ends the run before the input's end
  pool.shutdown();
  if (printer) printer->finish();
  if (events.output_closed()) return 128 + SIGPIPE;
  const uint64_t end_ns = ipc::monotonic_ns();
  events.clear_progress();
  if (results_stream != nullptr) std::fflush(results_stream);
  if (stream) say_what_was_read(request, *stream);
  if (request.summary)
    std::fputs(events.stats().summary(events.total(), end_ns, pool.worker_stats(), pool.restarts()).c_str(), stderr);
  if (!outcome.error.empty()) std::fprintf(stderr, "procpool: error: %s\n", outcome.error.c_str());
  if (!request.timeline_path.empty()) {
    std::string title = "procpool run " + request.kind;
    if (!request.then_kind.empty()) title += " --then " + request.then_kind;
    write_timeline(request.timeline_path, timeline, title);
  }
  if (events.reducer_ && outcome.error.empty() && outcome.signal == 0) print_reduced(*events.reducer_, events.stats());
  if (outcome.signal != 0) return 128 + outcome.signal;
  // The inputs read before a bad one ran; the run still fails as a mistake in its input.
  if (const std::string error = feeder.error(); !error.empty()) throw UsageError(error);
  if (const auto halted = events.halt_exit(); halted && *halted >= 0 && outcome.error.empty()) return *halted;
  return events.stats().all_ok() && outcome.error.empty() ? 0 : 1;
}

}  // namespace procpool::supervisor
