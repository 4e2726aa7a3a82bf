#include "supervisor/batch/input_stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ipc/eventfd.hpp"
#include "supervisor/batch/input_sources.hpp"
#include "supervisor/batch/joblog.hpp"
#include "supervisor/batch/resume.hpp"
#include "supervisor/engine/usable_cores.hpp"

namespace procpool::supervisor {

namespace {
// One read() at most: a batch of a regular file's lines, or what a pipe holds now.
constexpr std::size_t kReadBytes = 64 << 10;
// An input line longer than this is a mistake (a binary file given as a list of inputs),
// not a task: refused rather than held in memory while its end is looked for.
constexpr std::size_t kMaxLineBytes = 64 << 20;
}  // namespace

bool streams_inputs(const RunRequest& request) {
  const KindHooks& hooks = request.schema.hooks;
  if (!request.sources.empty() || request.shape.max_args > 1) return false;  // combinations, groups
  if (request.halt.percent) return false;                                       // a share of the total
  if (hooks.expand_inputs && !(hooks.expands_each_input && hooks.expands_each_input(request.options))) return false;
  return true;
}

std::string no_inputs_message(const RunRequest& request) {
  return "no inputs: give them as arguments or with --input-file FILE (- for stdin)" + request.schema.hooks.inputs_hint;
}

void check_values(const RunRequest& request, const std::vector<std::string>& values) {
  if (!request.schema.hooks.several_values && has_several_values(values))
    throw UsageError(request.kind + " takes one value per input: several ':::' sources, --colsep and -n give "
                     "several, for exec's {1} {2} ...");
}

std::vector<std::string> expand_for_kind(const RunRequest& request, std::vector<std::string> values, unsigned workers) {
  if (!request.schema.hooks.expand_inputs) return values;
  try {
    return request.schema.hooks.expand_inputs(std::move(values), request.options, workers);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

ResumeFilter::ResumeFilter(const RunRequest& request) {
  if ((request.resume || request.resume_failed) && !request.joblog_path.empty()) {
    joblog_done_ = joblog_seqs(request.joblog_path, request.resume_failed);
    by_joblog_ = true;
  } else if (request.resume_failed) {
    throw UsageError("--resume-failed needs --joblog FILE: the file says what failed");
  } else if (request.resume) {
    if (request.results_path.empty() || request.results_path == "-")
      throw UsageError("--resume needs --results FILE: the file says what is already done");
    std::size_t skipped = 0;
    try {
      finished_ = finished_inputs(request.results_path, request.kind, &skipped);
    } catch (const std::runtime_error& e) {
      throw UsageError(e.what());
    }
    if (skipped != 0)
      std::fprintf(stderr, "procpool: %zu unreadable lines in %s were ignored\n", skipped, request.results_path.c_str());
    by_results_ = true;
  }
}

bool ResumeFilter::done(uint64_t seq, const std::string& value) {
  if (by_joblog_) return joblog_done_.erase(seq) != 0;  // each Seq is met once
  return by_results_ && take_finished(finished_, value);
}

InputStream::InputStream(const RunRequest& request)
    : request_(request), buffer_(kReadBytes), resume_(request) {
  if (request.inputs.empty() && request.input_file.empty() && request.sources.empty())
    throw UsageError(no_inputs_message(request));
  workers_ = request.pool.workers != 0 ? request.pool.workers : usable_cores();
  if (request.input_file == "-") {
    if (fcntl(STDIN_FILENO, F_GETFD) == -1) throw UsageError("cannot read inputs from stdin: it is closed");
    fd_ = STDIN_FILENO;
  } else if (!request.input_file.empty()) {
    fd_ = ::open(request.input_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw UsageError("cannot read input file " + request.input_file + ": " + std::strerror(errno));
    own_fd_ = true;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    if (own_fd_) ::close(fd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
}

InputStream::~InputStream() {
  if (own_fd_) ::close(fd_);
  ::close(stop_fd_);
}

void InputStream::stop() { ipc::eventfd_ring(stop_fd_); }

bool InputStream::read_lines(std::vector<std::string>& lines) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) break;
  }
  const ssize_t got = ::read(fd_, buffer_.data(), buffer_.size());
  const std::string source = request_.input_file == "-" ? "stdin" : "input file " + request_.input_file;
  if (got < 0) {
    if (errno == EINTR || errno == EAGAIN) return true;
    throw UsageError("error reading " + source + ": " + std::strerror(errno));
  }
  const char end_of_line = request_.shape.null ? '\0' : '\n';
  const auto add = [&](std::string line) {
    if (end_of_line == '\n' && !line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
  };
  if (got == 0) {  // the end: a last line without its newline is a line too
    ended_ = true;
    add(std::move(partial_));
    partial_.clear();
    return true;
  }
  const char* p = buffer_.data();
  const char* const end = p + got;
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, end_of_line, static_cast<std::size_t>(end - p)));
    if (eol == nullptr) {
      partial_.append(p, end);
      if (partial_.size() > kMaxLineBytes)
        throw UsageError(source + ": an input line is over " + std::to_string(kMaxLineBytes >> 20) +
                         " MiB (is it a list of inputs, one a line?)");
      break;
    }
    if (partial_.empty()) {
      add(std::string(p, eol));
    } else {
      partial_.append(p, eol);
      add(std::move(partial_));
      partial_.clear();
    }
    p = eol + 1;
  }
  return true;
}

void InputStream::shape(std::vector<std::string>& values) const {
  if (!request_.shape.colsep.empty()) {
    try {
      values = combine_sources(std::move(values), {}, request_.shape);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    check_values(request_, values);
  }
  values = expand_for_kind(request_, std::move(values), workers_);
}

bool InputStream::next(std::vector<NumberedInput>& out) {
  std::vector<std::string> values;
  if (!arguments_taken_) {
    arguments_taken_ = true;
    values = request_.inputs;
  } else if (fd_ < 0 || ended_ || !read_lines(values)) {
    return false;
  }
  shape(values);
  const KindHooks& hooks = request_.schema.hooks;
  for (std::string& value : values) {
    if (hooks.own_output && hooks.own_output(value)) {
      if (left_out_++ == 0) left_out_example_ = value;
      continue;
    }
    const uint64_t seq = ++given_;
    if (resume_.done(seq, value)) {
      ++already_done_;
      continue;
    }
    out.push_back({std::move(value), resume_.keeps_seqs() ? seq : seq - already_done_});
  }
  return true;
}

}  // namespace procpool::supervisor
