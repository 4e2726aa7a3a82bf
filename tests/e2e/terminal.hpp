// A pseudo-terminal for tests that drive procpool as a person at a terminal does: it runs
// in a session of its own with the terminal as its controlling one (so ^C is SIGINT from
// the line discipline, not from kill), and what it prints is read back as a screen.
#pragma once

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <string>
#include <vector>

namespace procpool::testing {

class Terminal {
 public:
  // Runs `sh -c command` on a new pseudo-terminal of 120 columns.
  explicit Terminal(const std::string& command) {
    winsize size{};
    size.ws_row = 40;
    size.ws_col = 120;
    pid_ = forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;
  ~Terminal() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  bool started() const { return pid_ > 0; }

  // Keys typed at the terminal: "\x03" is Ctrl-C.
  void type(const std::string& keys) const { (void)!write(master_, keys.data(), keys.size()); }

  // Reads what it prints until text appears in it (true), it closes, or time runs out.
  bool read_until(const std::string& text, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (raw_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return raw_.find(text) != std::string::npos;
    }
    return true;
  }
  // Reads to the end and returns the exit status (128 + signal for a signal).
  int wait(std::chrono::milliseconds limit) {
    read_until(std::string(1, '\0'), limit);  // never printed: reads until it closes
    int raw = 0;
    if (waitpid(pid_, &raw, 0) != pid_) return -1;
    reaped_ = true;
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  }

  const std::string& raw() const { return raw_; }

  // The lines as a terminal shows them: a carriage return goes back to the start of the
  // line, ESC[K and ESC[2K erase, other escape sequences draw nothing.
  std::vector<std::string> screen() const {
    std::vector<std::string> lines(1);
    std::size_t col = 0;
    for (std::size_t i = 0; i < raw_.size(); ++i) {
      const char c = raw_[i];
      std::string& line = lines.back();
      if (c == '\r') {
        col = 0;
      } else if (c == '\n') {
        lines.emplace_back();
        col = 0;
      } else if (c == '\033' && i + 1 < raw_.size() && raw_[i + 1] == '[') {
        std::size_t j = i + 2;
        while (j < raw_.size() && (std::isdigit(static_cast<unsigned char>(raw_[j])) || raw_[j] == ';')) ++j;
        if (j < raw_.size() && raw_[j] == 'K') {
          if (raw_.compare(i + 2, j - i - 2, "2") == 0) line.clear();
          else if (col < line.size()) line.resize(col);
        }
        i = j;
      } else {
        if (col < line.size()) line[col] = c;
        else line.append(col - line.size(), ' ').push_back(c);
        ++col;
      }
    }
    return lines;
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(master_, buf, sizeof buf);
    if (n <= 0) return false;  // EIO: every process of the terminal has closed it
    raw_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string raw_;
};

}  // namespace procpool::testing
