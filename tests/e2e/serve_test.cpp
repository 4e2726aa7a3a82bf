// `procpool serve` and `procpool submit` end to end: a real server process, its Unix
// socket, clients that misbehave, systemd's notification socket, and real signals.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "child/kinds/http_curl.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::read_file;
using procpool::testing::run_cli;

namespace {

// A raw protocol client: JSON lines out, JSON lines in.
class Conn {
 public:
  explicit Conn(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Conn() { close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& data) { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()); }
  // The next line, or "" after 30 s or when the server closed the connection.
  std::string line() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      const auto nl = in_.find('\n');
      if (nl != std::string::npos) {
        std::string out = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return out;
      }
      pollfd p{fd_, POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline || poll(&p, 1, 100) < 0) return "";
      if ((p.revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[65536];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }
  json reply() { return json::parse(line(), nullptr, false); }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

// systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET.
class NotifyListener {
 public:
  explicit NotifyListener(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifyListener() { close(fd_); }
  bool bound() const { return bound_; }
  // Collects messages (one per line in seen()) until one contains `what` after `from`.
  bool receive_until(const std::string& what, std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen_.find(what, from) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      seen_.append(buf, static_cast<std::size_t>(n)).append("\n");
      if (std::string_view(buf, static_cast<std::size_t>(n)) == "WATCHDOG=1") pings_.push_back(std::chrono::steady_clock::now());
    }
    return seen_.find(what, from) != std::string::npos;
  }
  const std::string& seen() const { return seen_; }
  // When each WATCHDOG=1 arrived.
  const std::vector<std::chrono::steady_clock::time_point>& pings() const { return pings_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string seen_;
  std::vector<std::chrono::steady_clock::time_point> pings_;
};

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = procpool::testing::fresh_test_dir("serve");
    socket_ = (dir_ / "pp.sock").string();
  }
  void TearDown() override {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      procpool::testing::wait_status(server_);
    }
    fs::remove_all(dir_);
  }
  // Starts `procpool serve` and waits for its socket.
  void start(const std::string& args = "") { ASSERT_TRUE(try_start(args)) << read_file((dir_ / "err").string()); }
  // The same; false, with the server reaped, if it exited instead of serving.
  bool try_start(const std::string& args) {
    server_ = procpool::testing::start_background(
        "serve --socket " + socket_ + " --results " + (dir_ / "log.jsonl").string() + " " + args,
        (dir_ / "out").string(), (dir_ / "err").string());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!fs::exists(socket_) && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(server_, nullptr, WNOHANG) == server_) {
        server_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return fs::exists(socket_);
  }
  int stop(int signal = SIGTERM) {
    kill(server_, signal);
    const int status = procpool::testing::wait_status(server_);
    server_ = -1;
    return status;
  }
  fs::path dir_;
  std::string socket_;
  pid_t server_ = -1;
};

}  // namespace

TEST_F(Serve, SubmitPrintsEachResultAsRunDoes) {
  start("-j 2");
  struct stat st{};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  CliRun r = run_cli("submit --socket " + socket_ + " sleep 50 10 30");
  ASSERT_EQ(r.status, 0) << r.err;
  auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 3u);
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["kind"], "sleep");
  }
  // A task that fails makes the exit status 1; a kind the server lacks is an error (2).
  r = run_cli("submit --socket " + socket_ + " wordcount /nonexistent/book.txt");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(json_lines(r.out).at(0)["status"], "error");
  r = run_cli("submit --socket " + socket_ + " nokind x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown task kind 'nokind' (kinds: noop, sleep,"), std::string::npos) << r.err;
  r = run_cli("submit --socket " + (dir_ / "none.sock").string() + " sleep 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is procpool serve running?"), std::string::npos) << r.err;
}

TEST_F(Serve, BadRequestsGetAnErrorAndDisturbNobody) {
  start("-j 1");
  Conn bad(socket_), good(socket_);
  ASSERT_TRUE(bad.connected() && good.connected());
  for (const char* request : {"not json", "[1,2]", R"({"op":"dance"})", R"({"op":"submit","kind":"sleep"})",
                              R"({"op":"submit","kind":"sleep","inputs":[1]})", R"({"op":"submit","inputs":["1"]})"}) {
    ASSERT_TRUE(bad.send(std::string(request) + "\n"));
    const json reply = bad.reply();
    EXPECT_EQ(reply["op"], "error") << request << " -> " << reply.dump();
  }
  // The same connection still works, and so does another one meanwhile.
  ASSERT_TRUE(good.send(R"({"op":"submit","kind":"sleep","inputs":["20"]})" "\n"));
  EXPECT_EQ(good.reply()["op"], "accepted");
  ASSERT_TRUE(bad.send(R"({"op":"stats"})" "\n"));
  EXPECT_EQ(bad.reply()["op"], "stats");
  EXPECT_EQ(good.reply()["status"], "ok");
  EXPECT_EQ(good.reply()["op"], "done");
  // An oversized request: an error, then the connection is closed; the others go on.
  bad.send(std::string(2 << 20, 'x'));  // the server may close before it has read it all
  const json reply = bad.reply();
  EXPECT_EQ(reply["op"], "error");
  EXPECT_NE(reply["message"].get<std::string>().find("request over 1048576 bytes"), std::string::npos);
  EXPECT_EQ(bad.line(), "");  // closed
  ASSERT_TRUE(good.send(R"({"op":"submit","kind":"noop","inputs":["a","b"]})" "\n"));
  EXPECT_EQ(good.reply()["op"], "accepted");
}

TEST_F(Serve, AClientThatLeavesLosesNothingAccepted) {
  start("-j 1");
  {
    Conn c(socket_);
    ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":["100","100","100"]})" "\n"));
    EXPECT_EQ(c.reply()["op"], "accepted");
  }  // gone before any result
  // Its tasks run anyway and their results are logged.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (json_lines(read_file((dir_ / "log.jsonl").string())).size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto logged = json_lines(read_file((dir_ / "log.jsonl").string()));
  ASSERT_EQ(logged.size(), 3u);
  for (const json& j : logged) EXPECT_EQ(j["status"], "ok");
}

TEST_F(Serve, SigtermDrainsRunningTasksCancelsQueuedOnesAndRemovesTheSocket) {
  start("-j 1");
  Conn c(socket_);
  ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":["300","300","300"]})" "\n"));
  EXPECT_EQ(c.reply()["op"], "accepted");
  ASSERT_TRUE(procpool::testing::wait_until_running(server_, 1));
  kill(server_, SIGTERM);
  int ok = 0, cancelled = 0;
  for (int i = 0; i < 3; ++i) {
    const json j = c.reply();
    ok += j["status"] == "ok";
    cancelled += j["status"] == "cancelled";
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(procpool::testing::wait_status(server_), 0);
  server_ = -1;
  EXPECT_FALSE(fs::exists(socket_));
  EXPECT_NE(read_file((dir_ / "err").string()).find("stopped by SIGTERM"), std::string::npos);
}

// A client may cancel a task by its id until a worker takes it: its result comes back
// "cancelled"; the running one and an id that never was are not cancelled.
TEST_F(Serve, CancelStopsAQueuedTaskButNotARunningOne) {
  start("-j 1");
  Conn c(socket_);
  std::string inputs = R"("1000")";
  for (int i = 0; i < 40; ++i) inputs += R"(,"10")";
  ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":[)" + inputs + "]}\n"));
  const json accepted = c.reply();
  ASSERT_EQ(accepted["op"], "accepted") << accepted;
  const uint64_t first = accepted["first_id"], last = first + 40;
  ASSERT_TRUE(procpool::testing::wait_until_running(server_, 1));
  std::map<uint64_t, std::string> status;  // of every result line, by task id
  json done;
  auto absorb = [&](const json& j) {
    if (j.is_object() && j.contains("id") && j.contains("status")) status[j["id"].get<uint64_t>()] = j["status"];
    if (j.is_object() && j.value("op", "") == "done") done = j;  // (a const json's [] of a missing key is UB)
  };
  auto cancel = [&](uint64_t id) {
    EXPECT_TRUE(c.send(R"({"op":"cancel","id":)" + std::to_string(id) + "}\n"));
    for (json j = c.reply(); j.is_object(); j = c.reply()) {  // results may come first
      if (j.value("op", "") == "cancel") {
        EXPECT_EQ(j["id"], id);
        return j["cancelled"].get<bool>();
      }
      absorb(j);
    }
    ADD_FAILURE() << "no answer to cancel " << id;
    return false;
  };
  EXPECT_TRUE(cancel(last)) << "the last of 40 queued behind a 1 s task";
  EXPECT_FALSE(cancel(last)) << "cancelled twice";
  EXPECT_FALSE(cancel(first)) << "the running task";
  EXPECT_FALSE(cancel(last + 1000)) << "an id never given";
  while (done.is_null()) {
    const json j = c.reply();
    if (!j.is_object()) break;  // 30 s without a line, or the connection closed
    absorb(j);
  }
  ASSERT_EQ(status.size(), 41u);
  EXPECT_EQ(done["count"], 41) << done;
  EXPECT_EQ(done["ok"], 40) << done;
  EXPECT_EQ(status[last], "cancelled");
  EXPECT_EQ(status[first], "ok");
  EXPECT_EQ(std::count_if(status.begin(), status.end(), [](const auto& e) { return e.second == "ok"; }), 40);
}

TEST_F(Serve, TellsSystemdReadyStatusWatchdogAndStopping) {
  NotifyListener systemd((dir_ / "notify").string());
  ASSERT_TRUE(systemd.bound());
  setenv("NOTIFY_SOCKET", (dir_ / "notify").c_str(), 1);
  setenv("WATCHDOG_USEC", "300000", 1);  // a ping due every 100 ms (a third)
  start("-j 1");
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  EXPECT_TRUE(systemd.receive_until("READY=1")) << systemd.seen();
  EXPECT_TRUE(systemd.receive_until("STATUS=1 worker, 0 tasks queued or running")) << systemd.seen();
  // The status follows the work (it is sent once a second), and the pings go on while
  // tasks run: one each 200 ms or less on average, never a gap as long as the interval.
  Conn c(socket_);
  // 1.2 s each: a status a second sees 3 in the first, and 1 in the third or fourth.
  ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":["1200","1200","1200"]})" "\n"));
  EXPECT_EQ(c.reply()["op"], "accepted");
  const std::size_t before = systemd.seen().size();
  EXPECT_TRUE(systemd.receive_until("STATUS=1 worker, 3 tasks queued or running", before)) << systemd.seen();
  EXPECT_TRUE(systemd.receive_until("STATUS=1 worker, 1 task queued or running", before)) << systemd.seen();
  EXPECT_TRUE(systemd.receive_until("STATUS=1 worker, 0 tasks queued or running", before)) << systemd.seen();
  const auto& pings = systemd.pings();
  ASSERT_GE(pings.size(), 2u) << systemd.seen();
  const double span_ms = std::chrono::duration<double, std::milli>(pings.back() - pings.front()).count();
  EXPECT_GE(static_cast<double>(pings.size() - 1), span_ms / 200) << "too few pings: " << pings.size()
                                                                         << " in " << span_ms << " ms";
  for (std::size_t i = 1; i < pings.size(); ++i) {
    const double gap_ms = std::chrono::duration<double, std::milli>(pings[i] - pings[i - 1]).count();
    EXPECT_LT(gap_ms, 300.0) << "ping " << i;
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.reply()["status"], "ok");
  kill(server_, SIGTERM);
  EXPECT_TRUE(systemd.receive_until("STOPPING=1")) << systemd.seen();
  EXPECT_EQ(procpool::testing::wait_status(server_), 0);
  server_ = -1;
}

TEST_F(Serve, SighupResizesThePoolUnderLoadLosingNothing) {
  const std::string config = (dir_ / "procpool.toml").string();
  std::ofstream(config) << "[pool]\nworkers = 1\n";
  start("--config " + config);
  const std::string err = (dir_ / "err").string();
  auto wait_for_log = [&](const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (read_file(err).find(what) == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return read_file(err).find(what) != std::string::npos;
  };
  Conn c(socket_);
  std::string inputs;
  const int n = 300;
  for (int i = 0; i < n; ++i) inputs += std::string(i ? "," : "") + "\"10\"";
  ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":[)" + inputs + "]}\n"));
  EXPECT_EQ(c.reply()["op"], "accepted");
  std::set<uint64_t> ids;
  std::set<int> workers;
  int ok = 0;
  auto read_results = [&](int count) {
    for (int i = 0; i < count; ++i) {
      const json j = c.reply();
      ASSERT_TRUE(j.contains("id")) << j.dump();
      ids.insert(j["id"].get<uint64_t>());
      workers.insert(j["worker"].get<int>());
      ok += j["status"] == "ok";
    }
  };
  read_results(20);
  std::ofstream(config) << "[pool]\nworkers = 3\n";
  kill(server_, SIGHUP);
  ASSERT_TRUE(wait_for_log("reloaded the configuration: 3 workers")) << read_file(err);
  read_results(120);
  std::ofstream(config) << "[pool]\nworkers = 1\n";
  kill(server_, SIGHUP);
  ASSERT_TRUE(wait_for_log("reloaded the configuration: 1 worker")) << read_file(err);
  read_results(n - 140);
  EXPECT_EQ(c.reply()["op"], "done");
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(n));  // each task once
  EXPECT_EQ(ok, n);
  EXPECT_EQ(workers, (std::set<int>{0, 1, 2}));
  const CliRun status = run_cli("status --json --pid " + std::to_string(server_));
  ASSERT_EQ(status.status, 0) << status.err;
  const json pool = json::parse(status.out).at(0);
  EXPECT_EQ(pool["workers"].size(), 1u) << status.out;  // the two that left are not listed
  EXPECT_EQ(pool["restarts"], 0);
  EXPECT_EQ(stop(), 0);
}

TEST_F(Serve, ABrokenConfigIsRefusedOnReloadAndTheOldOneStays) {
  const std::string config = (dir_ / "procpool.toml").string();
  std::ofstream(config) << "[pool]\nworkers = 2\n";
  NotifyListener systemd((dir_ / "notify").string());
  ASSERT_TRUE(systemd.bound());
  setenv("NOTIFY_SOCKET", (dir_ / "notify").c_str(), 1);
  start("--config " + config);
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(systemd.receive_until("READY=1"));
  std::ofstream(config) << "[pool]\nworkers = 1\nworkerz = 3\n";
  std::size_t mark = systemd.seen().size();
  kill(server_, SIGHUP);
  // systemd hears the reload start, with the time it started, and its end.
  ASSERT_TRUE(systemd.receive_until("RELOADING=1\nMONOTONIC_USEC=", mark)) << systemd.seen();
  ASSERT_TRUE(systemd.receive_until("READY=1\nSTATUS=reload refused", mark)) << systemd.seen();
  const std::string err = read_file((dir_ / "err").string());
  EXPECT_NE(err.find("reload refused, the running configuration stays: " + config + ":3:11: unknown key 'workerz'"),
            std::string::npos)
      << err;
  // The log is reopened on a good reload (rotation): the old file keeps what it had.
  std::ofstream(config) << "[pool]\nworkers = 2\n";
  fs::rename(dir_ / "log.jsonl", dir_ / "log.jsonl.1");
  mark = systemd.seen().size();
  kill(server_, SIGHUP);
  ASSERT_TRUE(systemd.receive_until("READY=1\nSTATUS=2 workers", mark)) << systemd.seen();
  const CliRun r = run_cli("submit --socket " + socket_ + " sleep 1 2");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(read_file((dir_ / "log.jsonl").string())).size(), 2u);
  EXPECT_EQ(json_lines(read_file((dir_ / "log.jsonl.1").string())).size(), 0u);
  const CliRun status = run_cli("status --json --pid " + std::to_string(server_));
  EXPECT_EQ(json::parse(status.out).at(0)["workers"].size(), 2u) << status.out;
  EXPECT_EQ(stop(), 0);
}

TEST_F(Serve, LogsJsonLinesAndAWorkerCrashAsAWarning) {
  start("-j 1 --log-format json");
  Conn c(socket_);
  ASSERT_TRUE(c.send(R"({"op":"submit","kind":"sleep","inputs":["1000"]})" "\n"));
  EXPECT_EQ(c.reply()["op"], "accepted");
  // Killed while it runs the task, so the death is handled while serving (its task's
  // result waits for the replacement).
  pid_t worker = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (worker == 0 && std::chrono::steady_clock::now() < deadline) {
    const CliRun status = run_cli("status --json --pid " + std::to_string(server_));
    ASSERT_EQ(status.status, 0) << status.err;
    const json w = json::parse(status.out).at(0)["workers"][0];
    if (w["state"] == "busy") worker = w["pid"].get<pid_t>();
  }
  ASSERT_GT(worker, 0);
  kill(worker, SIGSEGV);
  EXPECT_EQ(c.reply()["status"], "ok");  // run again by the replacement
  EXPECT_EQ(stop(), 0);
  const auto lines = json_lines(read_file((dir_ / "err").string()));  // each line must parse
  ASSERT_GE(lines.size(), 3u) << read_file((dir_ / "err").string());
  int crashes = 0;
  for (const json& j : lines) {
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << j.dump();
    if (j["level"] == "warning" &&
        j["msg"].get<std::string>().find("(pid " + std::to_string(worker) + ") ended: killed by SIGSEGV") !=
            std::string::npos)
      ++crashes;
  }
  EXPECT_EQ(crashes, 1);
  EXPECT_EQ(lines.front()["msg"].get<std::string>().find("serving 1 worker on "), 0u);
  EXPECT_EQ(lines.back()["msg"], "stopped by SIGTERM");
}

// --log-level: info by default; warning leaves out the info lines; debug adds the
// lines of workers that left as asked (recycled); off says nothing at all.
TEST_F(Serve, TheLogLevelChoosesWhatIsLogged) {
  const std::string err = (dir_ / "err").string();
  auto serve_two_tasks = [&](const std::string& level) {
    start("-j 1 --max-tasks-per-child 1" + level);
    EXPECT_EQ(run_cli("submit --socket " + socket_ + " noop a b").status, 0);
    EXPECT_EQ(stop(), 0);
    return read_file(err);
  };
  std::string log = serve_two_tasks("");
  EXPECT_NE(log.find("procpool [info] serving 1 worker on "), std::string::npos) << log;
  EXPECT_EQ(log.find("[debug]"), std::string::npos) << log;
  log = serve_two_tasks(" --log-level debug");
  EXPECT_NE(log.find("procpool [debug] worker 0 (pid "), std::string::npos) << log;
  EXPECT_NE(log.find(") left as asked"), std::string::npos) << log;
  log = serve_two_tasks(" --log-level warning");
  EXPECT_EQ(log.find("[info]"), std::string::npos) << log;
  EXPECT_EQ(log.find("[debug]"), std::string::npos) << log;
  log = serve_two_tasks(" --log-level off");
  EXPECT_EQ(log, "");
  const CliRun bad = run_cli("serve --log-level loud --socket " + socket_);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("loud"), std::string::npos) << bad.err;
}

// Under systemd (stderr is the stream JOURNAL_STREAM names), each plain line starts with
// its syslog priority, so journald files it right: <6> info, <4> warning.
TEST_F(Serve, UnderTheJournalEachLineCarriesItsPriority) {
  const std::string err = (dir_ / "err").string();
  std::ofstream(err).flush();  // the shell's 2> keeps this file, so its inode is the stream's
  struct stat st{};
  ASSERT_EQ(stat(err.c_str(), &st), 0);
  setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
  start("-j 1");
  unsetenv("JOURNAL_STREAM");
  const json status = procpool::testing::pool_status_when(server_, [](const json& j) { return j["workers"].size() == 1; });
  const pid_t worker = status["workers"][0]["pid"].get<pid_t>();
  kill(worker, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (read_file(err).find("<4>worker 0 (pid " + std::to_string(worker) + ") ended: killed by SIGKILL") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(stop(), 0);
  const std::string log = read_file(err);
  EXPECT_EQ(log.find("<6>serving 1 worker on "), 0u) << log;
  EXPECT_NE(log.find("<4>worker 0 (pid " + std::to_string(worker) + ") ended: killed by SIGKILL"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("procpool ["), std::string::npos) << log;
  // Another file's device and inode: not the journal, plain lines.
  setenv("JOURNAL_STREAM", "1:2", 1);
  start("-j 1");
  unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(read_file(err).find("procpool [info] serving 1 worker on "), 0u) << read_file(err);
}

// A pool may grow on reload up to max-workers, by default 4 x its workers and at least 8.
TEST_F(Serve, AReloadGrowsThePoolUpToMaxWorkers) {
  const std::string config = (dir_ / "procpool.toml").string();
  const std::string err = (dir_ / "err").string();
  auto reload_to = [&](int workers, const std::string& expect) {
    std::ofstream(config) << "[pool]\nworkers = " << workers << "\n";
    kill(server_, SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (read_file(err).find(expect) == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return read_file(err).find(expect) != std::string::npos;
  };
  std::ofstream(config) << "[pool]\nworkers = 1\n";
  start("--config " + config);
  EXPECT_TRUE(reload_to(9, "cannot grow to 9 workers: this pool was started with room for 8 (max-workers)"))
      << read_file(err);
  EXPECT_TRUE(reload_to(8, "reloaded the configuration: 8 workers")) << read_file(err);
  EXPECT_EQ(stop(), 0);
  // 3 workers: room for 12.
  std::ofstream(config) << "[pool]\nworkers = 3\n";
  start("--config " + config);
  EXPECT_TRUE(reload_to(13, "cannot grow to 13 workers: this pool was started with room for 12 (max-workers)"))
      << read_file(err);
  EXPECT_TRUE(reload_to(12, "reloaded the configuration: 12 workers")) << read_file(err);
  EXPECT_EQ(stop(), 0);
}

TEST_F(Serve, ASecondServerOnTheSameSocketIsRefused) {
  start("-j 1");
  const CliRun r = run_cli("serve -j 1 --socket " + socket_);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("another procpool serve is listening on " + socket_), std::string::npos) << r.err;
  EXPECT_EQ(run_cli("submit --socket " + socket_ + " noop x").status, 0);  // the first one is untouched
}

TEST(ServeUnit, TheSystemdUnitPassesSystemdAnalyzeVerify) {
  // The unit as shipped names the installed executable; verify checks that ExecStart
  // exists, so this copy names the one just built.
  const std::string unit = read_file(std::string(PROJECT_SOURCE_DIR) + "/scripts/procpool.service");
  ASSERT_NE(unit.find("ExecStart=/usr/local/bin/procpool serve"), std::string::npos);
  for (const char* line : {"Type=notify", "NotifyAccess=main", "WatchdogSec=", "OOMPolicy=continue", "KillMode=mixed",
                           "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                           "RuntimeDirectory=procpool"})
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  std::string copy = unit;
  copy.replace(copy.find("/usr/local/bin/procpool"), std::strlen("/usr/local/bin/procpool"), PROCPOOL_EXE);
  const fs::path dir = fs::temp_directory_path() / ("procpool-unit-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "procpool.service") << copy;
  const std::string cmd = "systemd-analyze verify " + (dir / "procpool.service").string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  fs::remove_all(dir);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "") << "systemd-analyze had remarks";
}

TEST_F(Serve, PrometheusMetricsOnALoopbackPortFromTheConfig) {
  // A port free a moment ago may be taken by the time the server binds it: then another.
  int port = 0;
  const std::string config = (dir_ / "serve.toml").string();
  for (int attempt = 0; attempt < 5 && server_ <= 0; ++attempt) {
    port = procpool::testing::free_loopback_port();
    std::ofstream(config) << "[serve]\nmetrics-port = " << port << "\n[pool]\nworkers = 1\n";
    if (!try_start("--config " + config)) {
      ASSERT_NE(read_file((dir_ / "err").string()).find("Address already in use"), std::string::npos)
          << read_file((dir_ / "err").string());
    }
  }
  ASSERT_GT(server_, 0) << "no free port in 5 tries";
  ASSERT_EQ(run_cli("submit --socket " + socket_ + " noop a b c").status, 0);
  procpool::kinds::HttpLimits once;
  once.retries = 0;
  std::string body;
  ASSERT_EQ(procpool::kinds::fetch_to_memory("http://127.0.0.1:" + std::to_string(port) + "/metrics", once, &body), "");
  EXPECT_NE(body.find("# TYPE procpool_tasks_done_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("procpool_tasks_done_total{pool=\"" + std::to_string(server_) + "\",status=\"ok\"} 3"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("procpool_worker_rss_bytes{pool=\"" + std::to_string(server_) + "\",slot=\"0\"}"),
            std::string::npos);
  EXPECT_EQ(procpool::kinds::fetch_to_memory("http://127.0.0.1:" + std::to_string(port) + "/other", once, &body),
            "HTTP 404");
}

TEST_F(Serve, OptionsTravelWithTheRequestOverTheHostsOwn) {
  const std::string config = (dir_ / "procpool.toml").string();
  std::ofstream(config) << "[pool]\nplugin = [\"" << OPTIONS_PLUGIN << "\"]\n\n[label]\nprefix = \"host:\"\n";
  start("-j 2 --config " + config);
  const std::string submit = "submit --socket " + socket_ + " ";
  auto output = [&](const std::string& args) {
    const CliRun r = run_cli(submit + args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.err;
    const auto lines = json_lines(r.out);
    return lines.size() == 1 ? lines[0].value("output", "(" + lines[0].value("error", "?") + ")") : r.out;
  };
  EXPECT_EQ(output("label x"), "host:x");  // the host's config alone
  // A flag of the kind (its schema known from --plugin here) and -o KEY=VALUE for any.
  EXPECT_EQ(output("--plugin " + std::string(OPTIONS_PLUGIN) + " label --times 2 x"), "host:xx");
  EXPECT_EQ(output("label -o prefix=req: -o shout=true x"), "REQ:X");
  EXPECT_EQ(output("label -o shout=true -o prefix=req: y"), "REQ:Y");  // the same set again
  // Each set of options is one kind in the pool, defined once however often it comes.
  const std::string err = read_file((dir_ / "err").string());
  std::size_t defined = 0;
  for (std::size_t at = err.find("defined label"); at != std::string::npos; at = err.find("defined label", at + 1))
    ++defined;
  EXPECT_EQ(defined, 2u) << err;
  // Refusals name the option and the reason; the pool goes on.
  CliRun r = run_cli(submit + "label -o times=9 x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("label option 'times' must be an integer from 1 to 5, not '9'"), std::string::npos) << r.err;
  r = run_cli(submit + "label -o colour=red x");
  EXPECT_NE(r.err.find("label has no option 'colour' (its options: prefix, times, shout)"), std::string::npos) << r.err;
  r = run_cli(submit + "wordcount -o top=3 book.txt");
  EXPECT_NE(r.err.find("wordcount option 'top' is for procpool run, not for a service"), std::string::npos) << r.err;
  // The thumbnail of the README's example, at the size the request asks for.
  ASSERT_EQ(std::system(("convert -size 300x200 gradient:red-blue " + (dir_ / "a.jpg").string()).c_str()), 0);
  r = run_cli(submit + "thumbnail --size 64x64 --out " + (dir_ / "thumbs").string() + " " + (dir_ / "a.jpg").string());
  ASSERT_EQ(r.status, 0) << r.err;
  const json thumb = json_lines(r.out).at(0)["output"];
  EXPECT_EQ(thumb["width"], 64);
  EXPECT_EQ(thumb["height"], 43);
  // A kind that cannot start with a request's options fails that request's tasks, not
  // the worker: the same worker goes on with the others.
  r = run_cli(submit + "download -o out=/proc/no-such-folder/x http://127.0.0.1:1/a.jpg");
  EXPECT_EQ(r.status, 1);
  const json failed = json_lines(r.out).at(0);
  EXPECT_NE(failed.value("error", "").find("download: cannot use output folder /proc/no-such-folder/x"),
            std::string::npos)
      << failed.dump();
  EXPECT_EQ(output("label again"), "host:again");  // and the kind as configured is still there
  EXPECT_EQ(read_file((dir_ / "err").string()).find("ended"), std::string::npos) << "a worker died";
}

// A changed working folder for one test, restored after it.
class InFolder {
 public:
  explicit InFolder(const fs::path& dir) : before_(fs::current_path()) { fs::current_path(dir); }
  ~InFolder() { fs::current_path(before_); }
  InFolder(const InFolder&) = delete;
  InFolder& operator=(const InFolder&) = delete;

 private:
  fs::path before_;
};

TEST_F(Serve, RelativePathsAreTheCallersNotTheServers) {
  start("-j 2");
  const fs::path caller = dir_ / "caller";
  fs::create_directories(caller / "photos");
  ASSERT_EQ(std::system(("convert -size 300x200 gradient:red-blue " + (caller / "photos/p.jpg").string()).c_str()), 0);
  std::ofstream(caller / "book.txt") << "the cat saw the dog\n";
  const InFolder in(caller);
  const std::string submit = "submit --socket " + socket_ + " ";
  // Inputs and --out alike, as the caller wrote them; the server's folder is another.
  CliRun r = run_cli(submit + "thumbnail --out thumbs photos/p.jpg");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_TRUE(fs::exists(caller / "thumbs/p_thumbnail.jpg"));
  EXPECT_EQ(json_lines(r.out).at(0)["input"], (caller / "photos/p.jpg").string());
  r = run_cli(submit + "thumbnail -o out=./small photos/../photos/p.jpg");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_TRUE(fs::exists(caller / "small/p_thumbnail.jpg"));
  EXPECT_EQ(json_lines(r.out).at(0)["input"], (caller / "photos/p.jpg").string());
  r = run_cli(submit + "checksum book.txt");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(json_lines(r.out).at(0).value("output", "").find(" " + (caller / "book.txt").string()), std::string::npos)
      << r.out;
  // A URL is not a path: it travels as written.
  r = run_cli(submit + "wordcount book.txt http://127.0.0.1:1/book.txt");
  EXPECT_EQ(r.status, 1) << r.err;
  std::set<std::string> inputs;
  for (const json& line : json_lines(r.out)) inputs.insert(line["input"].get<std::string>());
  EXPECT_EQ(inputs, (std::set<std::string>{(caller / "book.txt").string(), "http://127.0.0.1:1/book.txt"}));
}

TEST_F(Serve, SubmitFindsTheSocketInTheServersConfig) {
  const std::string config = (dir_ / "procpool.toml").string();
  std::ofstream(config) << "[pool]\nworkers = 1\n[serve]\nsocket = \"" << socket_ << "\"\n";
  start("--config " + config);
  CliRun r = run_cli("submit --config " + config + " noop a b");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).size(), 2u) << r.out;
  // A flag still wins over the file.
  r = run_cli("submit --config " + config + " --socket " + (dir_ / "none.sock").string() + " noop a");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot connect to " + (dir_ / "none.sock").string()), std::string::npos) << r.err;
  const std::string broken = (dir_ / "broken.toml").string();
  std::ofstream(broken) << "[serve]\nsocket = 5\n";
  r = run_cli("submit --config " + broken + " noop a");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(broken + ":2:10: key 'socket' in [serve] must be a string"), std::string::npos) << r.err;
}

TEST_F(Serve, ExecRunsOnlyTheCommandsTheHostAllows) {
  start("-j 1");
  const std::string submit = "submit --socket " + socket_ + " ";
  CliRun r = run_cli(submit + "exec a -- echo hi");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("exec: this host runs no command 'echo' for requests (its [exec] allow is empty)"),
            std::string::npos)
      << r.err;
  r = run_cli(submit + "exec -o 'allow=[\"echo\"]' a -- echo hi");
  EXPECT_NE(r.err.find("exec option 'allow' is the host's to set, in its config file"), std::string::npos) << r.err;
  stop();
  const std::string config = (dir_ / "procpool.toml").string();
  std::ofstream(config) << "[exec]\nallow = [\"echo\"]\n";
  start("-j 1 --config " + config);
  r = run_cli(submit + "exec a b -- echo hi");
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> said;
  for (const json& j : json_lines(r.out)) said.insert(j["output"]["stdout"].get<std::string>());
  EXPECT_EQ(said, (std::set<std::string>{"hi a\n", "hi b\n"}));
  r = run_cli(submit + "exec a -- rm -rf " + (dir_ / "victim").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("runs no command 'rm' for requests (its [exec] allow lists echo)"), std::string::npos) << r.err;
}
