// exec: runs a command per input, GNU parallel style (the template: exec_template.hpp).
// The command's exit status is the result (a non-zero one is an error), with a bounded
// copy of its stdout and stderr. Where they go while it runs:
//   - into memory through pipes, for a service or the C++ API (no --tmpdir);
//   - into spool files that `run`'s printer copies to its own stdout and stderr once the
//     job is over (exec_spool.hpp, exec_printer.hpp), bounded by --max-spool;
//   - straight to the worker's stdout and stderr, which are run's (--ungroup).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/exec_grouping.hpp"
#include "child/kinds/exec_printer.hpp"
#include "child/kinds/exec_spawn.hpp"
#include "child/kinds/exec_spool.hpp"
#include "child/kinds/exec_template.hpp"
#include "child/task_api.hpp"
#include "ipc/status.hpp"

namespace procpool::kinds {

namespace {

// A file descriptor closed when it goes.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// What the command wrote, as the result keeps it: at most `max` bytes from its start.
struct Captured {
  std::string text;
  bool cut = false;
};

// The first max bytes of a spool file (and whether there was more).
Captured head_of(int fd, std::size_t max) {
  Captured c;
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) return c;
  const auto size = static_cast<std::size_t>(st.st_size);
  c.text.resize(std::min(size, max));
  const ssize_t n = pread(fd, c.text.data(), c.text.size(), 0);
  c.text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  c.cut = size > max;
  return c;
}

// Its last max bytes, for an error message.
std::string tail_of(int fd, std::size_t max) {
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) return "";
  const auto size = static_cast<std::size_t>(st.st_size);
  std::string text(std::min(size, max), '\0');
  const ssize_t n = pread(fd, text.data(), text.size(), static_cast<off_t>(size - text.size()));
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

// Reads both pipes until they close or, once the command exited (exited_fd, its pidfd,
// readable), until nothing more is waiting in them: what the command started in the
// background may hold them open (the worker kills those when the task is over). A full
// pipe would block the command: everything is read, at most max kept of each.
void drain(int out_fd, int err_fd, int exited_fd, std::size_t max, Captured& out, Captured& err) {
  pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {exited_fd, POLLIN, 0}};
  Captured* bufs[2] = {&out, &err};
  int open_fds = 2;
  bool command_ended = false;
  int reads_after_end = 0;
  char chunk[16384];
  while (open_fds > 0) {
    if (poll(fds, 3, command_ended ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].fd >= 0 && fds[2].revents != 0) {
      command_ended = true;
      fds[2].fd = -1;
      continue;  // one more look at the pipes, without waiting
    }
    if (command_ended && ((fds[0].revents | fds[1].revents) == 0 || ++reads_after_end > 64)) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      const std::size_t room = max - std::min(max, bufs[i]->text.size());
      bufs[i]->text.append(chunk, std::min<std::size_t>(room, static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) > room) bufs[i]->cut = true;
    }
  }
}

class ExecKind final : public TaskKind {
 public:
  ExecKind(std::vector<std::string> command, std::size_t max_output, const std::string& spool, bool named_spool,
           uint64_t max_spool, bool ungroup, bool shell, bool context)
      : command_(std::move(command)), shell_(shell), context_(context), max_output_(max_output),
        spool_(spool.empty() ? nullptr : std::make_unique<SpoolPair>(spool, named_spool)), max_spool_(max_spool),
        ungroup_(ungroup) {}

  void run(std::string_view input, TaskOutput& out) override {
    const TaskContext& task = current_task();
    std::vector<std::string> args = shell_ ? shell_command_for(command_, input, task, context_)
                                             : command_for(command_, input, task, context_);
    const std::string program = args[0];
    if (!resolve(args[0])) {
      out.fail("cannot run '" + program + "': " + std::strerror(ENOENT));
      out.exit_code = 127;  // as a shell says of a command it cannot run
      return;
    }
    Captured stdout_copy, stderr_copy;
    std::string stderr_tail;
    bool over_spool = false;
    int status = 0;
    pid_t pid = -1;
    if (ungroup_) {
      pid = spawn_command(args, -1, -1);
      if (pid > 0) status = wait_command(pid, {});
    } else if (spool_) {
      if (!spool_->open_for(task.task_id, task.attempt))
        return out.fail("cannot spool the output in " + spool_->folder() + ": " + std::strerror(errno));
      const int out_fd = spool_->fd(Stream::out), err_fd = spool_->fd(Stream::err);
      pid = spawn_command(args, out_fd, err_fd);
      if (pid > 0) status = wait_command(pid, [&] { return over_spool = spool_->bytes() > max_spool_; });
      stdout_copy = head_of(out_fd, max_output_);
      stderr_copy = head_of(err_fd, max_output_);
      stderr_tail = tail_of(err_fd, 500);
      spool_->hand_over();
    } else {
      int out_pipe[2], err_pipe[2];
      if (pipe2(out_pipe, O_CLOEXEC) != 0) return out.fail(std::string("pipe: ") + std::strerror(errno));
      const Fd out_read(out_pipe[0]);
      Fd out_write(out_pipe[1]);
      if (pipe2(err_pipe, O_CLOEXEC) != 0) return out.fail(std::string("pipe: ") + std::strerror(errno));
      const Fd err_read(err_pipe[0]);
      Fd err_write(err_pipe[1]);
      pid = spawn_command(args, out_write.fd, err_write.fd);
      ::close(out_write.fd);
      ::close(err_write.fd);
      out_write.fd = err_write.fd = -1;
      if (pid > 0) {
        const Fd exited(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
        drain(out_read.fd, err_read.fd, exited.fd, max_output_, stdout_copy, stderr_copy);
        status = wait_command(pid, {});
      }
      const std::string& e = stderr_copy.text;
      stderr_tail = e.size() > 500 ? e.substr(e.size() - 500) : e;
    }
    if (pid < 0) {
      out.fail("cannot run '" + program + "': " + std::strerror(static_cast<int>(-pid)));
      out.exit_code = 127;  // as a shell says of a command it cannot run
      return;
    }
    report(program, status, over_spool, stdout_copy, stderr_copy, stderr_tail, out);
  }

 private:
  // program's path, found in PATH once (the template's first word seldom varies).
  bool resolve(std::string& program) {
    auto found = paths_.find(program);
    if (found == paths_.end()) {
      if (paths_.size() > 1000) paths_.clear();  // a program per input: bounded
      found = paths_.emplace(program, find_program(program)).first;
    }
    if (found->second.empty()) return false;
    program = found->second;
    return true;
  }

  void report(const std::string& program, int status, bool over_spool, const Captured& stdout_copy,
              const Captured& stderr_copy, const std::string& stderr_tail, TaskOutput& out) const {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (over_spool) {
      out.fail(program + " wrote more than --max-spool " + std::to_string(max_spool_ >> 20) + " MiB" +
               " of output and was killed (raise --max-spool, or --ungroup writes it straight out)");
      return;  // an error, not a crash: the limit is procpool's
    }
    if (code != 0) {
      out.fail(program + (WIFSIGNALED(status) ? " killed by " + ipc::signal_name(WTERMSIG(status))
                                               : " exited with status " + std::to_string(code)) +
               (stderr_tail.empty() ? "" : ": " + stderr_tail));
      if (WIFSIGNALED(status)) {
        out.signal = WTERMSIG(status);
      } else {
        out.exit_code = code;
      }
      return;
    }
    out.exit_code = 0;
    nlohmann::json j{{"exit", code}, {"stdout", stdout_copy.text}, {"stderr", stderr_copy.text}};
    if (stdout_copy.cut) j["stdout_truncated"] = true;
    if (stderr_copy.cut) j["stderr_truncated"] = true;
    out.output_is_json = true;
    out.data = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  std::vector<std::string> command_;
  bool shell_;    // --shell: command_ is a line for sh -c
  bool context_;  // -X: a word with {} repeated per value
  std::map<std::string, std::string> paths_;  // program as written -> its path
  std::size_t max_output_;
  std::unique_ptr<SpoolPair> spool_;  // into run's private spool folder; null: none
  uint64_t max_spool_;
  bool ungroup_;
};

std::unique_ptr<TaskKind> make_exec(const KindOptions& options) {
  std::vector<std::string> command = options.list("command");
  if (command.empty())
    throw std::invalid_argument("exec needs a command: procpool run exec [INPUT...] -- COMMAND [ARG...]");
  const auto max_output = static_cast<std::size_t>(options.integer("max-output-kb")) << 10;
  return std::make_unique<ExecKind>(std::move(command), max_output, options.get("tmpdir", ""),
                                    options.flag("line-buffer"), static_cast<uint64_t>(options.integer("max-spool")),
                                    options.flag("ungroup"), options.flag("shell"),
                                    options.flag("context-replace"));
}

}  // namespace

void register_exec_kind(KindRegistry& registry) {
  // A request (serve's socket, a Redis entry) runs a command of its own only where the
  // host's config lists its program: remote exec is off unless the operator opts in.
  KindHooks hooks;
  hooks.admit_request = [](const KindOptions& host, const KindOptions& requested) {
    if (!requested.has("command")) return;  // the host's own command (its [exec] section)
    const auto command = nlohmann::json::parse(requested.get("command", ""), nullptr, false);
    const std::string program = command.is_array() && !command.empty() && command[0].is_string()
                                    ? command[0].get<std::string>()
                                    : std::string();
    const std::vector<std::string> allowed = host.list("allow");
    if (std::find(allowed.begin(), allowed.end(), program) != allowed.end()) return;
    std::string listed;
    for (const std::string& a : allowed) listed += (listed.empty() ? "" : ", ") + a;
    throw std::invalid_argument("exec: this host runs no command '" + program + "' for requests (its [exec] allow " +
                                (listed.empty() ? "is empty" : "lists " + listed) + ")");
  };
  hooks.printer = make_exec_printer;
  hooks.expand_inputs = [](std::vector<std::string> inputs, const KindOptions& options, unsigned workers) {
    if (!options.flag("multiple-args") && !options.flag("context-replace")) return inputs;
    return grouped_for_command_line(inputs, options.list("command"), options.flag("context-replace"),
                                    options.flag("shell"), static_cast<std::size_t>(options.integer("max-chars")),
                                    workers);
  };
  hooks.expands_each_input = [](const KindOptions& options) {
    return !options.flag("multiple-args") && !options.flag("context-replace");
  };
  hooks.several_values = true;
  hooks.describe = [](const KindOptions& options, std::string_view input, uint64_t id) {
    const TaskContext task{id, 1, 0};
    const std::vector<std::string> templ = options.list("command");
    const bool context = options.flag("context-replace");
    if (options.flag("shell")) return shell_command_for(templ, input, task, context)[2];
    std::string line;
    for (const std::string& a : command_for(templ, input, task, context)) line += (line.empty() ? "" : " ") + shell_quoted(a);
    return line;
  };
  registry.add(
      {"exec",
       "runs '-- COMMAND ARGS' per input ({} {.} {/} {/.} {//} {#} {%} replaced), GNU parallel style; each command's "
       "output is printed when it ends, a job's together",
       make_exec,
       {opt::list("command", "the command and its arguments, a template per input (no shell)", "COMMAND")
            .given_after_dashes(),
        opt::integer("max-output-kb", "64", 1, 65536, "the command's stdout and stderr kept in the result"),
        opt::boolean("shell", false,
                     "the command is a shell line, run by /bin/sh -c, each value replaced into it quoted (default: "
                     "no shell, the words after -- are the command and its arguments)")
            .batch_only(),
        opt::boolean("multiple-args", false,
                     "as many inputs per command as its line has room for (--max-chars), spread evenly over the "
                     "jobs: {} is all of them, each its own argument, as GNU parallel's -m")
            .batch_only()
            .with_letter('m'),
        opt::boolean("context-replace", false,
                     "as --multiple-args, and a word with {} in it is repeated for each input (pic{}.jpg: "
                     "pica.jpg picb.jpg), as GNU parallel's -X")
            .batch_only()
            .with_letter('X'),
        opt::integer("max-chars", "130000", 64, 131072,
                     "-m and -X: the longest command line, its arguments and a byte between each (Linux takes at "
                     "most 131072 in one argument, --shell's line)")
            .batch_only()
            .with_letter('s'),
        opt::boolean("keep-order", false, "print the jobs' output in the order of their inputs, not as they end")
            .run_side()
            .with_letter('k'),
        opt::boolean("tag", false, "begin each line a command prints with its input and a tab").run_side(),
        opt::boolean("line-buffer", false,
                     "print each whole line as soon as a command has written it, not the job's output at its end")
            .batch_only(),
        opt::boolean("ungroup", false,
                     "commands write straight to procpool's stdout and stderr: fastest, lines of jobs may mix")
            .batch_only(),
        opt::text("tmpdir", "",
                  "where a private folder holds each running command's output until it is printed (default: "
                  "$TMPDIR, else /tmp)",
                  "DIR")
            .batch_only(),
        opt::size("max-spool", "1G", 1, 0,
                  "a job's output spooled at most while it runs; a command that writes more is killed, its "
                  "result an error")
            .batch_only(),
        opt::list("allow",
                  "serve and Redis hosts: the programs a request's command may start, each exactly as the "
                  "request names it (e.g. \"/usr/bin/convert\"); empty: a request may run none",
                  "PROGRAM")
            .host_policy()},
       std::move(hooks)});
}

}  // namespace procpool::kinds
