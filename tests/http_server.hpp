#pragma once
// The loopback HTTP server of tests/http/server.py, started for a test and killed after.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace procpool::testing {

class LoopbackHttpServer {
 public:
  explicit LoopbackHttpServer(const std::string& extra_args = "") {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      const std::string cmd = std::string("exec ") + TEST_PYTHON + " " + TEST_HTTP_SERVER + " " + extra_args;
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* out = fdopen(fds[0], "r");
    char line[64] = {};
    // The server prints "PORT n" once it listens; EOF means it could not start.
    if (std::fgets(line, sizeof line, out) == nullptr || std::sscanf(line, "PORT %d", &port_) != 1) {
      std::fclose(out);
      stop();
      throw std::runtime_error("the test HTTP server did not start (is python3-aiohttp installed?)");
    }
    std::fclose(out);
  }
  ~LoopbackHttpServer() { stop(); }
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace procpool::testing
