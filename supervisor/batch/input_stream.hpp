#pragma once
// `run`'s inputs read as the pool needs them: the arguments, then --input-file (or stdin)
// a read at a time, each batch shaped (--colsep), checked, expanded by the kind (a folder
// to its images), filtered (the kind's own outputs, what --resume finds done) and
// numbered, so that memory stays flat however long the input is and a line arriving on a
// pipe (`tail -f log | procpool run ...`) starts its task at once.
//
// Not every run can be read so: every combination of ":::" sources, -n groups and a kind
// that expands its inputs as a whole (exec -m, sum-squares --n) need all of them first,
// and so does --halt N% (a share of a total). streams_inputs() says which; the others
// read the whole input as before (run.cpp's inputs_to_run).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "supervisor/batch/run.hpp"

namespace procpool::supervisor {

// One task's input and its number among the run's inputs (GNU parallel's Seq: 1, 2, ...
// in the order given; after a --resume from a joblog, the number it had there).
struct NumberedInput {
  std::string value;
  uint64_t seq = 0;
};

// True when request's inputs can be read as the run goes (see above).
bool streams_inputs(const RunRequest& request);

// "no inputs: give them as arguments or ...", with the kind's hint.
std::string no_inputs_message(const RunRequest& request);

// What every way of reading a run's inputs does with them, whole or a batch at a time:
// UsageError for several values given to a kind of one (":::" sources, --colsep, -n).
void check_values(const RunRequest& request, const std::vector<std::string>& values);
// The kind's expansion of values (a folder to its images), its refusals as UsageError.
std::vector<std::string> expand_for_kind(const RunRequest& request, std::vector<std::string> values, unsigned workers);

// --resume: which inputs an earlier run did, by the Seqs of --joblog (GNU parallel's way;
// --resume-failed: only those that succeeded there) or by the ok results in --results.
class ResumeFilter {
 public:
  // Reads what the earlier run left. Throws UsageError for --resume without a file that
  // says what is done, or a file that cannot be read.
  explicit ResumeFilter(const RunRequest& request);
  bool active() const { return by_joblog_ || by_results_; }
  // Tasks are numbered by their Seq in the joblog; after a resume from results, anew.
  bool keeps_seqs() const { return by_joblog_; }
  // True when the input numbered seq is done: skip it (each finished result skips one).
  bool done(uint64_t seq, const std::string& value);

 private:
  bool by_joblog_ = false, by_results_ = false;
  std::set<uint64_t> joblog_done_;
  std::map<std::string, std::size_t> finished_;
};

// Where a run's tasks come from, a batch at a time (the feeding thread's side).
class InputFeed {
 public:
  virtual ~InputFeed() = default;
  // Appends the next inputs to out, blocking until some arrive; false once none will.
  virtual bool next(std::vector<NumberedInput>& out) = 0;
  // Any thread: a next() blocked on a read returns false, and every later one.
  virtual void stop() {}
};

// Inputs read whole before the run (what streams_inputs() refuses): handed out at once.
class WholeInput final : public InputFeed {
 public:
  explicit WholeInput(std::vector<NumberedInput> inputs) : inputs_(std::move(inputs)) {}
  bool next(std::vector<NumberedInput>& out) override {
    if (taken_) return false;
    taken_ = true;
    out = std::move(inputs_);
    inputs_ = {};
    return true;
  }

 private:
  std::vector<NumberedInput> inputs_;
  bool taken_ = false;
};

class InputStream final : public InputFeed {
 public:
  // Opens --input-file ("-": stdin) and reads what --resume needs. Throws UsageError when
  // the file cannot be read or --resume cannot be honoured.
  explicit InputStream(const RunRequest& request);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Appends the next inputs to out, blocking until at least one arrives; false once none
  // will (the end of the input, or stop()). out may stay empty on true (a read whose
  // inputs were all left out). Throws UsageError for a read error or an input the kind
  // refuses (several values for a kind of one, a folder it cannot list).
  bool next(std::vector<NumberedInput>& out) override;
  void stop() override;

  // What was read so far: inputs given (after the kind's expansion), the kind's own
  // outputs left out (and one of them, for the message), those --resume found done.
  uint64_t given() const { return given_; }
  uint64_t left_out() const { return left_out_; }
  const std::string& left_out_example() const { return left_out_example_; }
  uint64_t already_done() const { return already_done_; }
  bool resumed() const { return resume_.active(); }

 private:
  bool read_lines(std::vector<std::string>& lines);  // false at the end of the file
  void shape(std::vector<std::string>& values) const;

  const RunRequest& request_;
  int fd_ = -1;
  bool own_fd_ = false;
  bool arguments_taken_ = false;
  bool ended_ = false;
  int stop_fd_ = -1;  // eventfd: stop() makes it readable
  std::string partial_;  // a line begun and not yet ended, across reads
  std::vector<char> buffer_;
  unsigned workers_ = 1;
  ResumeFilter resume_;
  uint64_t given_ = 0, left_out_ = 0, already_done_ = 0;
  std::string left_out_example_;
};

}  // namespace procpool::supervisor
