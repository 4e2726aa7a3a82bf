// Many hosts, one Redis queue: real `procpool serve` processes consuming a real
// redis-server started here on loopback, fed by `procpool submit --redis`.
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipc/sanitizers.hpp"
#include "supervisor/redis/client.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::supervisor::redis::Client;
using procpool::supervisor::redis::Endpoint;
using procpool::supervisor::redis::Reply;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::read_file;
using procpool::testing::run_cli;

namespace {

class Redis : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = procpool::testing::fresh_test_dir("redis");
    // A port free a moment ago may be taken by the time redis-server binds it: then another.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = procpool::testing::free_loopback_port();
      address_ = "127.0.0.1:" + std::to_string(port_);
      if (start_redis(false)) return;
      ASSERT_NE(read_file((dir_ / "redis.log").string()).find("Address already in use"), std::string::npos)
          << "redis-server did not start: " << read_file((dir_ / "redis.log").string());
    }
    FAIL() << "no free port for redis-server in 5 tries";
  }
  // redis-server on port_, its files in dir_; with aof, every write is in the append-only
  // file before Redis answers (appendfsync always), so a restart loses nothing accepted.
  // Returns false, with it reaped, if it exited instead.
  bool start_redis(bool aof) {
    redis_ = fork();
    if (redis_ == 0) {
      setpgid(0, 0);
      const std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--dir", dir_.c_str(), "--appendonly", aof ? "yes" : "no", "--appendfsync", "always", "--logfile",
             (dir_ / "redis.log").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(redis_, nullptr, WNOHANG) == redis_) {
        redis_ = -1;
        return false;
      }
      try {
        Client c({"127.0.0.1", port_}, std::chrono::milliseconds(200), std::chrono::milliseconds(1000));
        if (c.command({"PING"}).str == "PONG") return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "redis-server did not start: " << read_file((dir_ / "redis.log").string());
    return false;
  }
  void TearDown() override {
    for (pid_t h : hosts_) {
      kill(-h, SIGKILL);
      procpool::testing::wait_status(h);
    }
    if (redis_ > 0) {  // never kill(-1, ...)
      kill(redis_, SIGKILL);
      procpool::testing::wait_status(redis_);
    }
    fs::remove_all(dir_);
  }
  // A host: `procpool serve` with its own socket, consuming queue q.
  pid_t host(const std::string& name, const std::string& args) {
    const pid_t pid = procpool::testing::start_background(
        "serve --socket " + (dir_ / (name + ".sock")).string() + " --redis " + address_ + " --queue q --instance " +
            name + " " + args,
        (dir_ / (name + ".out")).string(), (dir_ / (name + ".err")).string());
    hosts_.push_back(pid);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (read_file((dir_ / (name + ".err")).string()).find("connected to Redis") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_NE(read_file((dir_ / (name + ".err")).string()).find("connected to Redis"), std::string::npos);
    return pid;
  }
  Reply redis(const std::vector<std::string>& argv) {
    Client c({"127.0.0.1", port_}, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000));
    return c.command(argv);
  }
  // How many entries the consumer "HOST:name" holds (XPENDING's summary: count, first,
  // last, [[consumer, count], ...]).
  long long holders(const std::string& name) {
    const Reply p = redis({"XPENDING", "pp:{q}:jobs", "pp"});
    if (p.elements.size() < 4) return 0;
    for (const Reply& c : p.elements[3].elements)
      if (c.elements.size() == 2 && c.elements[0].str.ends_with(":" + name)) return std::stoll(c.elements[1].str);
    return 0;
  }
  // A producer in the background: `procpool submit --redis` of KIND over the lines of
  // `inputs`, its results to submit.out.
  pid_t submit_in_background(const std::string& args, const std::string& inputs) {
    std::ofstream(dir_ / "inputs.txt") << inputs;
    return procpool::testing::start_background("submit --redis " + address_ + " --queue q " + args +
                                                   " --input-file " + (dir_ / "inputs.txt").string(),
                                               (dir_ / "submit.out").string(), (dir_ / "submit.err").string());
  }
  // Waits for that producer: it ends 0 with n result lines, all ok, each input once.
  void expect_each_answered_once(pid_t submit, std::size_t n) {
    EXPECT_EQ(procpool::testing::wait_status(submit), 0) << read_file((dir_ / "submit.err").string());
    const auto lines = json_lines(read_file((dir_ / "submit.out").string()));
    ASSERT_EQ(lines.size(), n);
    std::set<std::string> inputs;
    for (const json& j : lines) {
      EXPECT_EQ(j["status"], "ok") << j.dump();
      inputs.insert(j["input"].get<std::string>());
    }
    EXPECT_EQ(inputs.size(), n);
  }
  // Nothing left in the queue: no entry, nothing pending.
  void expect_drained() {
    EXPECT_EQ(redis({"XLEN", "pp:{q}:jobs"}).integer, 0);
    const Reply pending = redis({"XPENDING", "pp:{q}:jobs", "pp"});
    ASSERT_EQ(pending.type, Reply::Type::Array);
    EXPECT_EQ(pending.elements.at(0).integer, 0);
  }

  fs::path dir_;
  int port_ = 0;
  std::string address_;
  pid_t redis_ = -1;
  std::vector<pid_t> hosts_;
};

}  // namespace

TEST_F(Redis, TasksOverThreeHostsAreEachAnsweredOnce) {
  for (const char* name : {"a", "b", "c"}) host(name, "-j 1");
  std::string inputs;
#if defined(PROCPOOL_ASAN) || defined(PROCPOOL_TSAN)
  const int n = 20'000;
#else
  const int n = 100'000;
#endif
  for (int i = 0; i < n; ++i) inputs += std::to_string(i) + "\n";
  const CliRun r = run_cli("submit --redis " + address_ + " --queue q --chunk 100 noop --input-file -", inputs);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(n));
  std::set<std::string> seen;
  std::set<int64_t> pids;
  for (const json& j : lines) {
    EXPECT_EQ(j["status"], "ok");
    seen.insert(j["input"].get<std::string>());
    pids.insert(j["pid"].get<int64_t>());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));  // every input, once
  EXPECT_EQ(pids.size(), 3u);                            // every host's worker took part
  expect_drained();
}

// `procpool run ... --redis`: the batch job fanned out over the hosts, with run's results
// file, --resume, summary and combined answer; kind options are refused (the hosts' own).
TEST_F(Redis, RunFansABatchOutOverTheHostsAndGathersIt) {
  host("a", "-j 1");
  host("b", "-j 1");
  const std::string redis = " --redis " + address_ + " --queue q";
  const std::string results = (dir_ / "results.jsonl").string();
  std::string inputs;
  for (int i = 0; i < 500; ++i) inputs += std::to_string(i) + "\n";
  CliRun r = run_cli("run noop --input-file - --chunk 20 --results " + results + redis, inputs);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("500 of 500 tasks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":a ("), std::string::npos) << r.err;  // both hosts answered
  EXPECT_NE(r.err.find(":b ("), std::string::npos) << r.err;
  for (int i = 500; i < 600; ++i) inputs += std::to_string(i) + "\n";
  r = run_cli("run noop --input-file - --resume --results " + results + redis, inputs);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("500 of 600 inputs already ok"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("100 of 100 tasks"), std::string::npos) << r.err;
  std::set<std::string> seen;
  for (const json& j : json_lines(read_file(results))) {
    EXPECT_EQ(j["status"], "ok");
    seen.insert(j["input"].get<std::string>());
  }
  EXPECT_EQ(seen.size(), 600u);
  EXPECT_EQ(json_lines(read_file(results)).size(), 600u);

  r = run_cli("run sum-squares --n 1000000 --chunks 10 --no-summary" + redis);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "333332833333500000\n");  // the combined answer, as a local run prints it

  r = run_cli("run noop x --redis 127.0.0.1:1 --reconnect-for 0.3");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  expect_drained();
}

// Each host's times are its own pool's; a run --redis puts them on the producer's clock
// and names the host, so its results and its timeline show one run, a lane per worker.
TEST_F(Redis, ARunsTimesAreTheProducersAndItsTimelineHasALanePerHostsWorker) {
  host("a", "-j 1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // b's pool clock starts 1.5 s later
  host("b", "-j 1");
  const std::string results = (dir_ / "r.jsonl").string(), svg = (dir_ / "t.svg").string();
  const auto begun = std::chrono::steady_clock::now();
  const CliRun r = run_cli("run sleep --chunk 1 --input-file - --results " + results + " --timeline " + svg +
                               " --redis " + address_ + " --queue q",
                           "200\n200\n200\n200\n200\n200\n");
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begun).count();
  ASSERT_EQ(r.status, 0) << r.err;
  std::map<std::string, std::vector<std::pair<double, double>>> by_host;
  for (const json& j : json_lines(read_file(results))) {
    const double start = j["start_ms"].get<double>(), end = j["end_ms"].get<double>();
    EXPECT_GE(start, 0);
    EXPECT_LE(end, wall_ms) << j.dump();  // not 1.5 s on, as host a's own clock has it
    EXPECT_NEAR(end - start, j["run_ms"].get<double>(), 0.01) << j.dump();
    by_host[j["host"].get<std::string>()].emplace_back(start, end);
  }
  ASSERT_EQ(by_host.size(), 2u);
  for (auto& [host, spans] : by_host) {
    EXPECT_TRUE(host.ends_with(":a") || host.ends_with(":b")) << host;
    // One worker each: its tasks one after another on the common clock, give or take the
    // error of the clock's offset (a reply's trip: 2.8 ms past a 5 ms bound was seen under
    // AddressSanitizer on a loaded machine); far below the 200 ms tasks and the 1.5 s
    // between the hosts' clocks that a run on the wrong clock would show.
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) EXPECT_GE(spans[i].first, spans[i - 1].second - 25) << host;
  }
  const std::string picture = read_file(svg);
  EXPECT_NE(picture.find("6 tasks, 6 ok, 2 workers on 2 hosts"), std::string::npos) << picture.substr(0, 600);
  EXPECT_NE(picture.find(":a #0</text>"), std::string::npos);
  EXPECT_NE(picture.find(":b #0</text>"), std::string::npos);
  expect_drained();
}

TEST_F(Redis, AKilledHostsJobsAreTakenOverAfterItsLease) {
  // A 3 s lease: long beside b's half-lease looks, so that a take-over before it ran
  // out cannot pass for one after (tried: claiming at a tenth of the lease is caught).
  const pid_t a = host("a", "-j 2 --lease 3");
  host("b", "-j 2 --lease 3");
  std::string inputs;
  for (int i = 0; i < 120; ++i) inputs += std::to_string(20 + i) + "\n";  // ms to sleep, each different
  const pid_t submit = submit_in_background("--chunk 4 sleep", inputs);
  // Once host a has work in hand, it dies with its workers.
  auto a_holds = [&] { return holders("a") > 0; };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!a_holds() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(a_holds());
  const auto killed = std::chrono::steady_clock::now();
  kill(-a, SIGKILL);
  // The take-over itself, timed: a's entries were last renewed at most lease/3 before the
  // kill, so b may claim them from 2/3 of the lease on (idle for a whole lease), and does
  // at its next look (every half lease) that finds room, ahead of new entries: room comes
  // when one of b's entries ends (4 tasks, 0.56 s at most). Earlier would mean jobs run
  // twice while their host still held them.
  std::string b_log;
  while (b_log.find("took over entry") == std::string::npos &&
         std::chrono::steady_clock::now() - killed < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    b_log = read_file((dir_ / "b.err").string());
  }
  const double takeover_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  ASSERT_NE(b_log.find("took over entry"), std::string::npos) << b_log;
  std::printf("taken over %.2f s after the kill (lease 3 s)\n", takeover_s);
  EXPECT_GE(takeover_s, 2.0) << "taken over before a's lease ran out";
  EXPECT_LE(takeover_s, 4.5 + 0.56 + 0.3) << "not taken over at the first room after the lease";
  expect_each_answered_once(submit, 120);
  const double after_kill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  b_log = read_file((dir_ / "b.err").string());
  // What may run twice is bounded by what a held: at most 2 entries per worker.
  std::size_t taken = 0;
  for (std::size_t at = b_log.find("took over entry"); at != std::string::npos; at = b_log.find("took over entry", at + 1))
    ++taken;
  EXPECT_LE(taken, 4u) << b_log;
  // Reclaimed after the 3 s lease (taken over within lease x 1.5), the rest run by b.
  EXPECT_LT(after_kill_s, 4.5 + 9.54 / 2) << after_kill_s;  // 9.54 s: all the sleeps, over b's 2 workers
  expect_drained();
}

// A host frozen (SIGSTOP, with its workers) past its lease: another host takes its jobs
// over and answers them; when the frozen host wakes, its late results are dropped, it
// learns that the entries are no longer its own, and no job flips back to it.
TEST_F(Redis, AHostFrozenPastItsLeaseHasItsLateResultsDropped) {
  const pid_t a = host("a", "-j 1 --lease 1");  // holds 2 entries at most
  host("b", "-j 2 --lease 1");
  std::string inputs;
  for (int i = 0; i < 16; ++i) inputs += std::to_string(300 + i) + "\n";  // ms to sleep
  const pid_t submit = submit_in_background("--chunk 1 sleep", inputs);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (holders("a") < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(holders("a"), 2);
  ASSERT_TRUE(procpool::testing::wait_until_running(a, 1));  // a's first task is running
  kill(-a, SIGSTOP);
  expect_each_answered_once(submit, 16);
  EXPECT_NE(read_file((dir_ / "b.err").string()).find("took over entry"), std::string::npos);

  kill(-a, SIGCONT);  // a wakes up with a task that has just finished, and one it held
  const auto woke = std::chrono::steady_clock::now();
  std::string a_log;
  while (a_log.find("dropped the late result") == std::string::npos &&
         std::chrono::steady_clock::now() - woke < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a_log = read_file((dir_ / "a.err").string());
  }
  EXPECT_NE(a_log.find("dropped the late result"), std::string::npos) << a_log;
  EXPECT_NE(a_log.find("taken over by other hosts (lease lost)"), std::string::npos) << a_log;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // what a might still do, it does now
  EXPECT_EQ(redis({"KEYS", "pp:{q}:reply:*"}).elements.size(), 0u) << "a late result was added after submit ended";
  EXPECT_EQ(holders("a"), 0) << "a job flipped back to the frozen host";
  expect_drained();
}

// Redis crashes (SIGKILL) mid-run and comes back from its append-only file: hosts and
// the producer reconnect, the tasks running meanwhile keep their results until they can
// be delivered, and every input is answered exactly once.
TEST_F(Redis, RedisRestartedMidRunLosesNothing) {
  kill(redis_, SIGKILL);  // this test wants the append-only file
  procpool::testing::wait_status(redis_);
  ASSERT_TRUE(start_redis(true));
  host("a", "-j 2 --lease 2");
  host("b", "-j 2 --lease 2");
  std::string inputs;
  for (int i = 0; i < 300; ++i) inputs += std::to_string(20 + i % 7) + "\n";  // ms to sleep
  const pid_t submit = submit_in_background("--chunk 5 --reconnect-for 30 sleep", inputs);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto answered = [&] {  // whole lines only: submit may be writing one
    const std::string out = read_file((dir_ / "submit.out").string());
    return static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
  };
  while (redis({"EXISTS", "pp:{q}:jobs"}).integer == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  while (answered() < 20 && std::chrono::steady_clock::now() < deadline)  // a part is done, a part runs
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(redis_, SIGKILL);
  procpool::testing::wait_status(redis_);
  const std::size_t before = answered();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // tasks finish with Redis away
  ASSERT_TRUE(start_redis(true));
  EXPECT_EQ(procpool::testing::wait_status(submit), 0) << read_file((dir_ / "submit.err").string());
  const auto lines = json_lines(read_file((dir_ / "submit.out").string()));
  EXPECT_GE(before, 20u);
  EXPECT_LT(before, 300u) << "Redis went away only after the run";
  std::printf("%zu of 300 answered when Redis crashed\n", before);
  ASSERT_EQ(lines.size(), 300u);
  std::multiset<int> inputs_seen;
  for (const json& j : lines) {
    EXPECT_EQ(j["status"], "ok") << j.dump();
    inputs_seen.insert(std::stoi(j["input"].get<std::string>()));
  }
  for (int ms = 20; ms < 27; ++ms) EXPECT_EQ(inputs_seen.count(ms), static_cast<std::size_t>(300 / 7 + (ms - 20 < 300 % 7)));
  EXPECT_EQ(redis({"KEYS", "pp:{q}:done:*"}).elements.size(), 60u);  // each job answered once
  for (const char* h : {"a", "b"}) {
    const std::string log = read_file((dir_ / (std::string(h) + ".err")).string());
    EXPECT_NE(log.find("retrying in"), std::string::npos) << log;
    EXPECT_NE(log.find("connected to Redis", log.find("retrying in")), std::string::npos) << log;
  }
  expect_drained();
}

TEST_F(Redis, MalformedEntriesGetOneErrorResultAndNeverBlockTheQueue) {
  // This host takes its queue from the [redis] section of its config file.
  std::ofstream(dir_ / "c.toml") << "[pool]\nworkers = 1\n[redis]\naddress = \"" << address_
                                 << "\"\nqueue = \"q\"\ninstance = \"from-config\"\n";
  hosts_.push_back(procpool::testing::start_background(
      "serve --socket " + (dir_ / "c.sock").string() + " --config " + (dir_ / "c.toml").string(),
      (dir_ / "c.out").string(), (dir_ / "c.err").string()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (read_file((dir_ / "c.err").string()).find("connected to Redis") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_NE(read_file((dir_ / "c.err").string()).find(":from-config"), std::string::npos)
      << read_file((dir_ / "c.err").string());
  redis({"XADD", "pp:{q}:jobs", "*", "job", "bad-json", "kind", "noop", "inputs", "not json", "reply", "pp:{q}:reply:t"});
  redis({"XADD", "pp:{q}:jobs", "*", "job", "bad-kind", "kind", "no-such", "inputs", "[\"x\"]", "reply", "pp:{q}:reply:t"});
  redis({"XADD", "pp:{q}:jobs", "*", "kind", "noop", "inputs", "[\"x\"]", "reply", "pp:{q}:reply:t"});  // no job id
  const CliRun r = run_cli("submit --redis " + address_ + " --queue q noop 1 2 3");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).size(), 3u);
  const Reply replies = redis({"XRANGE", "pp:{q}:reply:t", "-", "+"});
  std::set<std::string> causes;
  for (const Reply& e : replies.elements) {
    const json j = json::parse(e.elements.at(1).elements.at(1).str);
    EXPECT_EQ(j["status"], "error") << j.dump();
    causes.insert(j["cause"].get<std::string>());
  }
  EXPECT_EQ(causes.size(), 3u);
  EXPECT_TRUE(causes.count("\"inputs\" must be a JSON array of strings, not empty")) << replies.elements.size();
  EXPECT_TRUE(causes.count("unknown task kind 'no-such' on this host"));
  EXPECT_TRUE(causes.count("the entry has no \"job\" field"));
  expect_drained();
}

// SIGTERM: the task running finishes and is answered; what the host claimed but had not
// started goes back to the queue at once, uncharged, and another host runs it.
TEST_F(Redis, SigtermFinishesWhatRunsAndHandsBackTheRest) {
  const pid_t a = host("a", "-j 1");  // holds 2 entries at most: one running, one waiting
  const pid_t submit = submit_in_background("--chunk 1 sleep", "700\n701\n702\n703\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (redis({"XPENDING", "pp:{q}:jobs", "pp"}).elements.at(0).integer < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(procpool::testing::wait_until_running(a, 1));  // the first task is running
  kill(a, SIGTERM);
  EXPECT_EQ(procpool::testing::wait_status(a), 0);
  hosts_.erase(hosts_.begin());
  const std::string a_log = read_file((dir_ / "a.err").string());
  EXPECT_NE(a_log.find("handed back 1 entries that had not started"), std::string::npos) << a_log;
  // Nothing of a's is pending any more: the rest waits in the stream for any host.
  EXPECT_EQ(redis({"XPENDING", "pp:{q}:jobs", "pp"}).elements.at(0).integer, 0);
  host("b", "-j 2");
  expect_each_answered_once(submit, 4);
  expect_drained();
}

// A job whose kind kills its own supervisor takes each host that runs it down; after its
// max_attempts lost hosts it is given up: to the dead-letter stream with its cause, one
// "lost" result to its submitter; the queue goes on.
TEST_F(Redis, AJobThatKillsItsSupervisorEndsInTheDeadLetterStream) {
  redis({"XADD", "pp:{q}:jobs", "*", "job", "poison", "kind", "kill-supervisor", "inputs", "[\"x\"]", "reply",
         "pp:{q}:reply:t", "max_attempts", "2"});
  const std::string killer = std::string(" --plugin ") + KILLER_PLUGIN;
  for (const char* name : {"a", "b"}) {
    const pid_t h = host(name, "-j 1 --lease 0.5" + killer);
    const int status = procpool::testing::wait_status(h);  // the poison job took it down
    hosts_.pop_back();
    EXPECT_EQ(status, 128 + SIGKILL) << name;
  }
  host("c", "-j 1 --lease 0.5" + killer);
  const CliRun r = run_cli("submit --redis " + address_ + " --queue q noop after");  // the queue goes on
  EXPECT_EQ(r.status, 0) << r.err;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (redis({"XLEN", "pp:{q}:dead"}).integer < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const Reply dead = redis({"XRANGE", "pp:{q}:dead", "-", "+"});
  ASSERT_EQ(dead.elements.size(), 1u);
  const Reply& fields = dead.elements[0].elements.at(1);
  ASSERT_GE(fields.elements.size(), 2u);
  EXPECT_EQ(fields.elements[0].str, "cause");
  EXPECT_NE(fields.elements[1].str.find("lost 2 hosts while running it (limit 2)"), std::string::npos)
      << fields.elements[1].str << "\n" << read_file((dir_ / "c.err").string());
  const Reply replies = redis({"XRANGE", "pp:{q}:reply:t", "-", "+"});
  ASSERT_EQ(replies.elements.size(), 1u);
  const json lost = json::parse(replies.elements[0].elements.at(1).elements.at(1).str);
  EXPECT_EQ(lost["status"], "lost");
  EXPECT_EQ(lost["job"], "poison");
  expect_drained();
}

TEST_F(Redis, KindOptionsTravelWithTheEntriesAndEachHostChecksThem) {
  const std::string config = (dir_ / "host.toml").string();
  std::ofstream(config) << "[pool]\nplugin = [\"" << OPTIONS_PLUGIN << "\"]\n\n[label]\nprefix = \"host:\"\n";
  host("a", "-j 1 --config " + config);
  host("b", "-j 1 --config " + config);
  const std::string redis = " --redis " + address_ + " --queue q --chunk 3";
  const std::string plugin = std::string(" --plugin ") + OPTIONS_PLUGIN;
  // run --redis: the flags' options reach every host, over the host's own.
  CliRun r = run_cli("run label --no-summary --results - --times 2 --shout" + plugin + redis + " a b c d e f g", "");
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> outputs;
  for (const json& j : json_lines(r.out)) outputs.insert(j["output"].get<std::string>());
  EXPECT_EQ(outputs, (std::set<std::string>{"HOST:AA", "HOST:BB", "HOST:CC", "HOST:DD", "HOST:EE", "HOST:FF", "HOST:GG"}));
  // submit --redis with -o; a value a host refuses is one error result per job, with why.
  r = run_cli("submit label -o prefix=sub: x" + redis);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0)["output"], "sub:x");
  r = run_cli("submit label -o times=9 x" + redis);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("label option 'times' must be an integer from 1 to 5, not '9' on this host"), std::string::npos)
      << r.out;
  // exec over Redis: refused where the host's config allows no command.
  r = run_cli("submit exec x" + redis + " -- echo hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("this host runs no command 'echo' for requests"), std::string::npos) << r.out;
  expect_drained();
}
