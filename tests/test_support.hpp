#pragma once
// Helpers shared by the end-to-end tests: run the procpool executable, read JSON lines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace procpool::testing {

struct CliRun {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

// Runs procpool with args (through /bin/sh), stdin_text as its standard input.
inline CliRun run_cli(const std::string& args, const std::string& stdin_text = "") {
  namespace fs = std::filesystem;
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(&args));
  const fs::path err_file = fs::temp_directory_path() / ("procpool-cli-err-" + tag);
  const fs::path in_file = fs::temp_directory_path() / ("procpool-cli-in-" + tag);
  std::ofstream(in_file) << stdin_text;
  const std::string cmd = std::string(PROCPOOL_EXE) + " " + args + " 2>" + err_file.string() + " <" + in_file.string();
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  fs::remove(in_file);
  return r;
}

inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The most tasks running at one instant, from the start_ms/end_ms of result lines.
inline int max_overlap(const std::vector<nlohmann::json>& results) {
  std::vector<std::pair<double, int>> edges;
  for (const nlohmann::json& j : results) {
    edges.emplace_back(j["start_ms"].get<double>(), 1);
    edges.emplace_back(j["end_ms"].get<double>(), -1);
  }
  std::sort(edges.begin(), edges.end());  // an end sorts before a start at the same instant
  int now = 0, most = 0;
  for (const auto& [t, delta] : edges) most = std::max(most, now += delta);
  return most;
}

// A fresh scratch folder for the running test: <tmp>/procpool-<tag>-<pid>-<test name>,
// emptied if a killed earlier run left it. The test removes it when done.
inline std::filesystem::path fresh_test_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("procpool-" + tag + "-" + std::to_string(getpid()) + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Starts procpool in the background (its own process group), returns its pid.
inline pid_t start_background(const std::string& args, const std::string& out_file, const std::string& err_file) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const std::string cmd = "exec " + std::string(PROCPOOL_EXE) + " " + args + " >" + out_file + " 2>" + err_file;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Every process's pid, state ('R', 'S', 'Z'...) and parent, from /proc/PID/stat.
struct ProcEntry {
  pid_t pid = 0;
  char state = 0;
  pid_t ppid = 0;
};
inline std::vector<ProcEntry> processes() {
  std::vector<ProcEntry> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) continue;
    std::istringstream rest(line.substr(close + 2));
    ProcEntry e;
    e.pid = std::stoi(name);
    rest >> e.state >> e.ppid;
    out.push_back(e);
  }
  return out;
}

inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const ProcEntry& e : processes())
    if (e.ppid == parent && e.state != 'Z') out.push_back(e.pid);
  return out;
}

inline bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && line[close + 2] != 'Z';
}

inline int wait_status(pid_t pid) {
  int raw = 0;
  waitpid(pid, &raw, 0);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

// A loopback TCP port that was free a moment ago (the kernel's choice for port 0). Free
// only then: a server given it may find it taken, and its test tries another.
inline int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (!ok) throw std::runtime_error("no loopback port to be had");
  return ntohs(a.sin_port);
}

// Polls `procpool status --json --pid PID` until `ready` holds of the pool (30 s at
// most); returns the last status seen (null if none). A test that needs a task to be
// running waits for it here, never for a fixed time (a sanitized worker takes 150-350 ms
// to start).
template <typename Pred>
nlohmann::json pool_status_when(pid_t pid, Pred ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    const CliRun r = run_cli("status --json --pid " + std::to_string(pid));
    if (r.status == 0) {
      const nlohmann::json pools = nlohmann::json::parse(r.out, nullptr, false);  // a list, always
      if (pools.is_array() && pools.size() == 1) {
        last = pools[0];
        if (ready(last)) return last;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return last;
}

// Waits until the pool of PID runs `n` tasks at once; false after 30 s.
inline bool wait_until_running(pid_t pid, int n) {
  const nlohmann::json s = pool_status_when(pid, [n](const nlohmann::json& j) { return j["running"] == n; });
  return !s.is_null() && s["running"] == n;
}

}  // namespace procpool::testing
