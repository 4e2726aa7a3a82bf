// exec: runs a command per input, GNU parallel style. The command is a template of
// arguments (no shell) in which {} is the input, {.} the input without its extension,
// {/} its file name, {/.} its file name without extension and {//} its folder. The
// command's exit status, and its stdout and stderr up to a bound, are the result; a
// non-zero exit status is an error.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/task_api.hpp"
#include "ipc/status.hpp"

namespace procpool::kinds {

namespace {

std::string substitute(const std::string& arg, const std::string& input) {
  const std::filesystem::path p(input);
  const std::string no_ext = (p.parent_path() / p.stem()).string();
  const std::pair<const char*, std::string> table[] = {
      {"{/.}", p.stem().string()}, {"{//}", p.parent_path().string()}, {"{/}", p.filename().string()},
      {"{.}", no_ext}, {"{}", input}};
  std::string out;
  for (std::size_t i = 0; i < arg.size();) {
    bool replaced = false;
    for (const auto& [token, value] : table) {
      const std::size_t n = std::strlen(token);
      if (arg.compare(i, n, token) == 0) {
        out += value;
        i += n;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += arg[i++];
  }
  return out;
}

class ExecKind final : public TaskKind {
 public:
  ExecKind(std::vector<std::string> command, std::size_t max_output)
      : command_(std::move(command)), max_output_(max_output) {}

  void run(std::string_view input, TaskOutput& out) override {
    std::vector<std::string> args;
    bool uses_input = false;
    for (const std::string& a : command_) {
      args.push_back(substitute(a, std::string(input)));
      uses_input |= args.back() != a;
    }
    if (!uses_input) args.emplace_back(input);  // as GNU parallel: no {} means "append the input"
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return out.fail(std::string("pipe: ") + std::strerror(errno));
    int exec_error[2];
    if (pipe2(exec_error, O_CLOEXEC) != 0) return out.fail(std::string("pipe: ") + std::strerror(errno));
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // A worker is single-threaded: fork then exec at once is safe here.
    const pid_t pid = fork();
    if (pid == 0) {
      // Any step failing is reported as the exec's failure: the command never ran as asked.
      const int devnull = open("/dev/null", O_RDONLY);
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 &&  // killed with its worker (a timeout, say)
          dup2(out_pipe[1], STDOUT_FILENO) >= 0 && dup2(err_pipe[1], STDERR_FILENO) >= 0 && devnull >= 0 &&
          dup2(devnull, STDIN_FILENO) >= 0)
        execvp(argv[0], argv.data());
      const int err = errno;
      [[maybe_unused]] ssize_t n = write(exec_error[1], &err, sizeof err);
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    close(exec_error[1]);
    if (pid < 0) {
      close(out_pipe[0]);
      close(err_pipe[0]);
      close(exec_error[0]);
      return out.fail(std::string("fork: ") + std::strerror(errno));
    }
    std::string stdout_text, stderr_text;
    bool out_cut = false, err_cut = false;
    // The command's end is the task's end, even if what it started in the background
    // still holds its output open (the worker kills those when the task is over).
    const int exited = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    drain(out_pipe[0], err_pipe[0], exited, stdout_text, stderr_text, out_cut, err_cut);
    if (exited >= 0) close(exited);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int exec_errno = 0;
    const bool exec_failed = read(exec_error[0], &exec_errno, sizeof exec_errno) == static_cast<ssize_t>(sizeof exec_errno);
    close(exec_error[0]);
    if (exec_failed) {
      out.fail("cannot run '" + args[0] + "': " + std::strerror(exec_errno));
      out.exit_code = 127;  // as a shell says of a command it cannot run
      return;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
      const std::string tail = stderr_text.size() > 500 ? stderr_text.substr(stderr_text.size() - 500) : stderr_text;
      out.fail(args[0] + (WIFSIGNALED(status) ? " killed by " + ipc::signal_name(WTERMSIG(status))
                                               : " exited with status " + std::to_string(code)) +
               (tail.empty() ? "" : ": " + tail));
      if (WIFSIGNALED(status)) {
        out.signal = WTERMSIG(status);
      } else {
        out.exit_code = code;
      }
      return;
    }
    out.exit_code = 0;
    nlohmann::json j{{"exit", code}, {"stdout", stdout_text}, {"stderr", stderr_text}};
    if (out_cut) j["stdout_truncated"] = true;
    if (err_cut) j["stderr_truncated"] = true;
    out.output_is_json = true;
    out.data = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  // Reads both pipes to their end (a full pipe would block the command), keeping at most
  // max_output_ bytes of each.
  // Reads both pipes until they close or, once the command exited (exited_fd, its pidfd,
  // readable), until nothing more is waiting in them.
  void drain(int out_fd, int err_fd, int exited_fd, std::string& out, std::string& err, bool& out_cut,
             bool& err_cut) const {
    pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {exited_fd, POLLIN, 0}};
    std::string* bufs[2] = {&out, &err};
    bool* cut[2] = {&out_cut, &err_cut};
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
      // After the end, what is waiting is read; a background writer does not hold us.
      if (command_ended && ((fds[0].revents | fds[1].revents) == 0 || ++reads_after_end > 64)) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        const std::size_t room = max_output_ - std::min(max_output_, bufs[i]->size());
        bufs[i]->append(chunk, std::min<std::size_t>(room, static_cast<std::size_t>(n)));
        if (static_cast<std::size_t>(n) > room) *cut[i] = true;
      }
    }
    for (int i = 0; i < 2; ++i)
      if (fds[i].fd >= 0) close(fds[i].fd);
  }

  std::vector<std::string> command_;
  std::size_t max_output_;
};

std::unique_ptr<TaskKind> make_exec(const KindOptions& options) {
  std::vector<std::string> command = options.list("command");
  if (command.empty())
    throw std::invalid_argument("exec needs a command: procpool run exec [INPUT...] -- COMMAND [ARG...]");
  const auto max_output = static_cast<std::size_t>(options.integer("max-output-kb")) << 10;
  return std::make_unique<ExecKind>(std::move(command), max_output);
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
  registry.add({"exec", "runs '-- COMMAND ARGS' per input ({} {.} {/} {/.} {//} replaced), GNU parallel style",
                make_exec,
                {opt::list("command", "the command and its arguments, a template per input (no shell)", "COMMAND")
                     .given_after_dashes(),
                 opt::integer("max-output-kb", "64", 1, 65536, "the command's stdout and stderr kept in the result"),
                 opt::list("allow",
                           "serve and Redis hosts: the programs a request's command may start, each exactly as the "
                           "request names it (e.g. \"/usr/bin/convert\"); empty: a request may run none",
                           "PROGRAM")
                     .host_policy()},
                std::move(hooks)});
}

}  // namespace procpool::kinds
