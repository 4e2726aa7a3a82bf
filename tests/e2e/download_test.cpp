// The download kind end to end: `procpool run download` against a real HTTP server on
// loopback (tests/http/server.py) with slow, failing, stalling, huge and hostile endpoints.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <signal.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "child/kinds/http_curl.hpp"
#include "child/kinds/media_types.hpp"
#include "tests/http_server.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using procpool::testing::CliRun;
using procpool::testing::json_lines;
using procpool::testing::LoopbackHttpServer;
using procpool::testing::read_file;
using procpool::testing::run_cli;

namespace {

class Download : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new LoopbackHttpServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    dir_ = procpool::testing::fresh_test_dir("dl");
    out_ = (dir_ / "out").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string url(const std::string& path) { return server_->url(path); }
  // URLs as the shell must see them on a command line.
  static std::string quoted(const std::string& path) { return "'" + url(path) + "'"; }
  // Runs `procpool run download --out OUT --results - ARGS`.
  CliRun download(const std::string& args, const std::string& stdin_text = "") const {
    return run_cli("run download --out " + out_ + " --results - " + args, stdin_text);
  }
  std::map<std::string, json> by_input(const std::string& out) const {
    std::map<std::string, json> m;
    for (const json& j : json_lines(out)) m[j["input"].get<std::string>()] = j;
    return m;
  }
  // Every file in the output folder, hidden ones (temporaries) included.
  std::set<std::string> files() const {
    std::set<std::string> names;
    if (!fs::exists(out_)) return names;
    for (const auto& e : fs::directory_iterator(out_)) names.insert(e.path().filename().string());
    return names;
  }
  static json server_stats() {
    std::string body;
    const std::string error = procpool::kinds::fetch_to_memory(url("/stats"), {}, &body);
    EXPECT_EQ(error, "");
    return json::parse(body);
  }

  void kill_mid_transfer();

  static LoopbackHttpServer* server_;
  fs::path dir_;
  std::string out_;
};
LoopbackHttpServer* Download::server_ = nullptr;

// The server's body for /files/NAME: sha256(NAME) repeated, so byte i equals byte i % 32.
void expect_server_body(const std::string& path, std::size_t size) {
  const std::string bytes = read_file(path);
  ASSERT_EQ(bytes.size(), size) << path;
  for (std::size_t i = 32; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], bytes[i % 32]) << path << " byte " << i;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_F(Download, SavesEachUrlUnderItsOwnNameWithItsDetails) {
  const CliRun r = download(quoted("/files/cat.jpg?size=5000") + " " + quoted("/files/dog.png?size=70000") + " " +
                            quoted("/files/notes.txt"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto results = by_input(r.out);
  ASSERT_EQ(results.size(), 3u);
  const json cat = results[url("/files/cat.jpg?size=5000")]["output"];
  EXPECT_EQ(cat["path"], out_ + "/cat.jpg");
  EXPECT_EQ(cat["bytes"], 5000);
  EXPECT_EQ(cat["http_status"], 200);
  EXPECT_EQ(cat["content_type"], "image/jpeg");
  EXPECT_EQ(results[url("/files/dog.png?size=70000")]["output"]["content_type"], "image/png");
  expect_server_body(out_ + "/cat.jpg", 5000);
  expect_server_body(out_ + "/dog.png", 70000);
  expect_server_body(out_ + "/notes.txt", 1000);
  EXPECT_EQ(files(), (std::set<std::string>{"cat.jpg", "dog.png", "notes.txt"}));
  struct stat st{};
  ASSERT_EQ(stat((out_ + "/cat.jpg").c_str(), &st), 0);
  // The umask decides, as for any Unix tool's output (the test runs under its own).
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666u & ~mask);
}

TEST_F(Download, EachBadUrlIsAClearErrorAndLeavesNothingBehind) {
  const std::map<std::string, std::string> expected = {
      {url("/status/404"), "HTTP 404"},
      {url("/status/500"), "HTTP 500"},
      {"http://127.0.0.1:1/refused.jpg", "Couldn't connect to server"},
      {url("/loop"), "more than 10 redirects (--max-redirects)"},
      {url("/huge?size=3000000"), "body over the limit of 2097152 bytes (--max-size)"},
      {url("/huge?size=3000000&chunked=1"), "body over the limit of 2097152 bytes (--max-size)"},
      {url("/files/page.html?type=text/html"), "content type 'text/html' is not accepted (--accept image/jpeg,image/png)"},
      {url("/stall?size=100000"), "stalled: no data for 1 s (--stall-timeout)"},
      {"ftp://127.0.0.1/file.jpg", "not an http:// or https:// URL"},
      {"not a url", "not an http:// or https:// URL"},
  };
  std::string inputs;
  for (const auto& [u, e] : expected) inputs += u + "\n";
  const CliRun r = download("--http-retries 0 --max-size 2M --stall-timeout 1 --accept image/jpeg,image/png --input-file -",
                            inputs + url("/files/fine.jpg") + "\n");
  EXPECT_EQ(r.status, 1) << r.err;
  auto results = by_input(r.out);
  ASSERT_EQ(results.size(), expected.size() + 1) << r.out;
  for (const auto& [u, e] : expected) {
    EXPECT_EQ(results[u]["status"], "error") << u;
    EXPECT_NE(results[u]["error"].get<std::string>().find(e), std::string::npos) << u << ": " << results[u]["error"];
  }
  EXPECT_EQ(results[url("/files/fine.jpg")]["status"], "ok");
  EXPECT_EQ(files(), std::set<std::string>{"fine.jpg"});  // no partial file of any failure
}

// Redirects are followed (http and https only): the body is the last response's, saved
// under the name the user asked for; a redirect to another scheme is refused and leaves
// nothing behind.
TEST_F(Download, FollowsRedirectsButNeverToAnotherScheme) {
  const std::string three = url("/redirect/3");
  const std::string to_file = url("/goto/passwd.jpg?to=file:///etc/passwd");
  const std::string to_ftp = url("/goto/x.jpg?to=ftp://127.0.0.1/x.jpg");
  const CliRun r = download("--input-file -", three + "\n" + to_file + "\n" + to_ftp + "\n");
  EXPECT_EQ(r.status, 1) << r.err;
  auto results = by_input(r.out);
  ASSERT_EQ(results.size(), 3u) << r.out;
  EXPECT_EQ(results[three]["status"], "ok") << results[three];
  EXPECT_EQ(results[three]["output"]["http_status"], 200);
  EXPECT_EQ(results[three]["output"]["bytes"], 1000);
  expect_server_body(results[three]["output"]["path"].get<std::string>(), 1000);
  for (const std::string& u : {to_file, to_ftp}) {
    EXPECT_EQ(results[u]["status"], "error") << results[u];
    EXPECT_EQ(results[u]["attempts"], 1) << results[u];
  }
  EXPECT_EQ(files(), std::set<std::string>{fs::path(results[three]["output"]["path"].get<std::string>()).filename()});
  EXPECT_EQ(server_stats()["requests"]["/files/redirected.jpg"], 1);
}

TEST_F(Download, RetriesFailuresWithBackoffAndHonoursRetryAfter) {
  const std::string twice = url("/flaky/twice.jpg?fail=2");
  const std::string always = url("/flaky/always.jpg?fail=100&code=502");
  const std::string polite = url("/flaky/polite.jpg?fail=1&code=429&retry_after=1");
  const CliRun r = download("--http-retries 2 --input-file -", twice + "\n" + always + "\n" + polite + "\n");
  EXPECT_EQ(r.status, 1) << r.err;
  auto results = by_input(r.out);
  EXPECT_EQ(results[twice]["status"], "ok");
  EXPECT_EQ(results[twice]["output"]["retries"], 2);
  EXPECT_EQ(results[always]["error"], "HTTP 502 (after 3 attempts)");
  // Two backoffs, 250 ms then 500 ms, each +-20%: 0.6 to 0.9 s of waiting, and the
  // requests themselves take a few ms on loopback.
  for (const std::string& u : {twice, always}) {
    EXPECT_GE(results[u]["run_ms"].get<double>(), 600.0) << results[u];
    EXPECT_LE(results[u]["run_ms"].get<double>(), 900.0 + 250) << results[u];
  }
  EXPECT_EQ(results[polite]["status"], "ok");
  // The server's Retry-After: 1 s, instead of the 250 ms backoff.
  EXPECT_GE(results[polite]["run_ms"].get<double>(), 1000.0) << results[polite];
  EXPECT_LE(results[polite]["run_ms"].get<double>(), 1000.0 + 250) << results[polite];
  EXPECT_EQ(server_stats()["requests"]["/flaky/always.jpg"], 3);
}

TEST_F(Download, HostileNamesStayInsideTheOutputFolderAndNothingIsOverwritten) {
  fs::create_directories(out_);
  write_text(out_ + "/mine.jpg", "precious");
  const fs::path outside = dir_ / "outside.jpg";
  write_text(outside.string(), "outside");
  fs::create_symlink(outside, out_ + "/link.jpg");
  std::string inputs;
  for (const std::string path : {"/files/..%2F..%2Fescape.jpg", "/files/%2e%2e", "/files/a%0Ab%00c.jpg",
                                 "/files/mine.jpg", "/files/link.jpg", "/files/twin.jpg", "/files/twin.jpg", "/"})
    inputs += url(path) + "\n";
  inputs += url("/files/" + std::string(300, 'x') + ".jpg") + "\n";
  const CliRun r = download("--input-file -", inputs);
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> paths;
  for (const json& j : json_lines(r.out)) {
    const std::string path = j["output"]["path"];
    paths.insert(path.substr(out_.size() + 1));
    EXPECT_EQ(fs::path(path).parent_path(), fs::path(out_)) << path;
  }
  EXPECT_EQ(paths.count("_.._escape.jpg"), 1u);
  // "%2e%2e" and "/" leave no name: both are "download", one of them numbered.
  EXPECT_EQ(paths.count("download") + paths.count("download-1"), 2u);
  EXPECT_EQ(paths.count("a_b_c.jpg"), 1u);
  EXPECT_EQ(paths.count("mine-1.jpg"), 1u);
  EXPECT_EQ(paths.count("link-1.jpg"), 1u);
  EXPECT_EQ(paths.count("twin.jpg") + paths.count("twin-1.jpg"), 2u);
  EXPECT_EQ(paths.count(std::string(196, 'x') + ".jpg"), 1u);
  EXPECT_EQ(read_file(out_ + "/mine.jpg"), "precious");
  EXPECT_EQ(read_file(outside.string()), "outside");
  EXPECT_TRUE(fs::is_symlink(out_ + "/link.jpg"));
  EXPECT_FALSE(fs::exists(dir_ / "escape.jpg"));
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "escape.jpg"));
  // Asked to, it replaces the file (and a symlink itself, never what it points to).
  const CliRun again = download("--overwrite " + url("/files/mine.jpg") + " " + url("/files/link.jpg"));
  ASSERT_EQ(again.status, 0) << again.err;
  expect_server_body(out_ + "/mine.jpg", 1000);
  EXPECT_FALSE(fs::is_symlink(out_ + "/link.jpg"));
  EXPECT_EQ(read_file(outside.string()), "outside");
}

TEST_F(Download, ManyTransfersInFlightPerWorkerOverReusedConnections) {
  const json before = server_stats();
  std::string inputs;
  for (int i = 0; i < 200; ++i) inputs += url("/files/many" + std::to_string(i) + ".jpg?delay=50") + "\n";
  const CliRun r = download("-j 1 --concurrency 20 --input-file -", inputs);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = json_lines(r.out);
  ASSERT_EQ(results.size(), 200u);
  EXPECT_EQ(procpool::testing::max_overlap(results), 20);  // the worker kept its 20 transfers in flight
  EXPECT_EQ(files().size(), 200u);
  // Kept alive and reused: far fewer connections than requests.
  const int connections = server_stats()["connections"].get<int>() - before["connections"].get<int>();
  EXPECT_LE(connections, 40) << connections << " connections for 200 requests";
}

TEST_F(Download, HeadersMayComeFromTheEnvironment) {
  setenv("PROCPOOL_TEST_CLIENT_ID", "abc123", 1);
  const CliRun r = download("--header 'Authorization: Client-ID ${PROCPOOL_TEST_CLIENT_ID}' " +
                            quoted("/header/auth.txt?h=Authorization"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(out_ + "/auth.txt"), "Client-ID abc123");
  const CliRun missing = download("--header 'Authorization: Client-ID ${PROCPOOL_TEST_UNSET_VARIABLE}' " +
                                  url("/files/x.jpg"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("${PROCPOOL_TEST_UNSET_VARIABLE}, which is not set"), std::string::npos) << missing.err;
  const CliRun malformed = download("--header 'no colon here' " + url("/files/x.jpg"));
  EXPECT_EQ(malformed.status, 2);
  EXPECT_NE(malformed.err.find("'Name: value'"), std::string::npos) << malformed.err;
}

// Three transfers stall half-way, their bodies' files open in the worker; then the
// worker is SIGKILLed. Its files must vanish with it (unnamed files; named temporaries
// are removed by the replacement worker), and the three tasks run again (one at a time:
// any of them might have been the killer).
void Download::kill_mid_transfer() {
  const std::string out_file = (dir_ / "results").string(), err_file = (dir_ / "err").string();
  const pid_t run = procpool::testing::start_background(
      "run download -j 1 --http-retries 0 --stall-timeout 1 --out " + out_ + " --results - " +
          quoted("/stall?size=100000&n=1") + " " + quoted("/stall?size=100000&n=2") + " " + quoted("/stall?size=100000&n=3"),
      out_file, err_file);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<pid_t> workers;
  auto open_in_out = [&] {  // files of the output folder the worker holds open
    std::size_t n = 0;
    workers = procpool::testing::children_of(run);
    if (workers.size() != 1) return n;
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(workers[0]) + "/fd", ec))
      n += fs::read_symlink(fd.path(), ec).string().rfind(out_, 0) == 0;
    return n;
  };
  while (open_in_out() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(open_in_out(), 3u) << read_file(err_file) << read_file(out_file);
  kill(workers[0], SIGKILL);
  EXPECT_EQ(procpool::testing::wait_status(run), 1);
  const auto results = json_lines(read_file(out_file));
  ASSERT_EQ(results.size(), 3u) << read_file(err_file);
  for (const json& j : results) {
    EXPECT_EQ(j["status"], "error");
    EXPECT_EQ(j["attempts"], 1);  // the kill was charged to none of them
    EXPECT_NE(j["error"].get<std::string>().find("stalled"), std::string::npos) << j.dump();
  }
  EXPECT_TRUE(files().empty()) << *files().begin();
}

TEST_F(Download, AWorkerKilledMidTransferLosesNoTaskAndLeavesNoPartialFile) { kill_mid_transfer(); }

TEST_F(Download, WithNamedTemporariesTooAKilledWorkerLeavesNoPartialFile) {
  setenv("PROCPOOL_NAMED_TEMPORARIES", "1", 1);  // inherited by the pool started next
  kill_mid_transfer();
  unsetenv("PROCPOOL_NAMED_TEMPORARIES");
}

TEST_F(Download, AGalleryListingThenThumbnailsInOneCommand) {
  const CliRun r = download("--links-from " + quoted("/listing.json?n=5&html=2&real=1") +
                            " --accept image/jpeg,image/png --then thumbnail --size 64x64");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("5 links in the listing, 2 of other types skipped"), std::string::npos) << r.err;
  int downloads = 0, thumbnails = 0;
  for (const json& j : json_lines(r.out)) {
    EXPECT_EQ(j["status"], "ok") << j.dump();
    if (j["kind"] == "download") ++downloads;
    if (j["kind"] != "thumbnail") continue;
    ++thumbnails;
    EXPECT_LE(j["output"]["width"].get<int>(), 64);
    EXPECT_LE(j["output"]["height"].get<int>(), 64);
    EXPECT_TRUE(fs::exists(j["output"]["path"].get<std::string>()));
  }
  EXPECT_EQ(downloads, 5);
  EXPECT_EQ(thumbnails, 5);
  EXPECT_EQ(files().size(), 10u);  // imgNNNN.jpg and imgNNNN_thumbnail.jpg
  EXPECT_NE(r.err.find("10 of 10 tasks"), std::string::npos) << r.err;
}

TEST_F(Download, ABadListingIsAClearError) {
  CliRun r = download("--links-from " + quoted("/bad.json"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the listing is not JSON"), std::string::npos) << r.err;
  r = download("--links-from " + quoted("/status/404"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot fetch the listing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  r = download("--links-from " + quoted("/listing.json?n=3") + " --links-path 'items[].url'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the listing has nothing at items[].url"), std::string::npos) << r.err;
  r = download("--links-from " + quoted("/listing.json?n=3") + " --links-path 'data[.link'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("download option 'links-path' must be"), std::string::npos) << r.err;
  r = download("--links-from " + quoted("/listing.json?n=3") + " --links-path 'data[].id'");  // numbers
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("3 that are not strings skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no inputs"), std::string::npos) << r.err;
  EXPECT_TRUE(files().empty());
}

TEST_F(Download, WordcountOverUrlsMergesBooksAndRefusesWhatIsNotText) {
  const CliRun r = run_cli("run wordcount --http-retries 0 --top 1 --results " + (dir_ / "r.jsonl").string() + " " +
                           quoted("/book/moby.txt?words=7000") + " " + quoted("/book/short.txt?words=700") + " " +
                           quoted("/latin1.txt") + " " + quoted("/status/404"));
  EXPECT_EQ(r.status, 1) << r.err;
  // Every 7th word of the server's books is "Ahab": 1000 + 100 of 7700.
  EXPECT_NE(r.out.find("7700 words"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1100 ahab"), std::string::npos) << r.out;
  auto results = by_input(read_file((dir_ / "r.jsonl").string()));
  EXPECT_EQ(results[url("/latin1.txt")]["error"], url("/latin1.txt") + ": not UTF-8 text");
  EXPECT_EQ(results[url("/status/404")]["error"], url("/status/404") + ": HTTP 404");
}

TEST_F(Download, AnUnusableOutputFolderStopsTheRunAtOnce) {
  write_text((dir_ / "a-file").string(), "not a folder");
  // Checked before the first task: a usage error naming the path, nothing fetched.
  const CliRun r = run_cli("run download --out " + (dir_ / "a-file").string() + " " + quoted("/files/x.jpg"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--out: " + (dir_ / "a-file").string() + " is a file, not a folder"), std::string::npos)
      << r.err;
}

TEST_F(Download, TheDownloadsExampleFetchesAndThumbnailsWithTheCppApi) {
  std::string urls;
  for (int i = 0; i < 4; ++i) urls += url("/jpeg/ex" + std::to_string(i) + ".jpg") + "\n";
  urls += url("/status/404") + "\n";
  write_text((dir_ / "urls").string(), urls);
  const std::string cmd = std::string(EXAMPLE_DOWNLOADS) + " " + (dir_ / "urls").string() + " " + out_ + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 1) << out;  // one URL failed
  EXPECT_NE(out.find("4 of 5 URLs downloaded into " + out_ + ", 4 thumbnails"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP 404"), std::string::npos) << out;
  EXPECT_EQ(files().size(), 8u);
  EXPECT_TRUE(fs::exists(out_ + "/ex0_thumbnail.jpg"));
}

namespace {

int sh(const std::string& command) {
  const int raw = std::system(command.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
}

// nghttpd (nghttp2's server, which speaks HTTP/2 only) over TLS on loopback, with a
// certificate for 127.0.0.1 signed by a CA made for the test, serving `docroot`.
class Http2Server {
 public:
  Http2Server(const fs::path& dir, const fs::path& docroot) {
    const std::string d = dir.string();
    const std::string quiet = " >" + d + "/openssl.log 2>&1";
    std::ofstream(dir / "san.ext") << "subjectAltName=IP:127.0.0.1\n";
    ok_ = sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + d + "/ca.key -out " + d +
             "/ca.pem -days 2 -subj /CN=procpool-test-ca" + quiet) == 0 &&
          sh("openssl req -newkey rsa:2048 -nodes -keyout " + d + "/server.key -out " + d +
             "/server.csr -subj /CN=127.0.0.1" + quiet) == 0 &&
          sh("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
             "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + d + "/server.pem" + quiet) == 0;
    // A port free a moment ago may be taken when the server binds it: then another.
    for (int attempt = 0; ok_ && attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = procpool::testing::free_loopback_port();
      pid_ = fork();
      if (pid_ == 0) {
        const int log = open((d + "/nghttpd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log < 0 || dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0) _exit(126);
        execlp("nghttpd", "nghttpd", "-a", "127.0.0.1", "-d", docroot.c_str(), std::to_string(port_).c_str(),
               (d + "/server.key").c_str(), (d + "/server.pem").c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      if (!wait_listening()) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
      }
    }
  }
  ~Http2Server() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool up() const { return ok_ && pid_ > 0; }
  std::string url(const std::string& name) const { return "https://127.0.0.1:" + std::to_string(port_) + "/" + name; }

 private:
  bool wait_listening() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return false;  // it exited: the port, say
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port_));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (connected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  bool ok_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace

// https, over HTTP/2 (the server speaks nothing else), from a server whose certificate a
// CA of the user's own signed: trusted with --ca-file, refused without it (the system's
// CAs never signed it), and nothing is left of a refused download.
TEST_F(Download, HttpsOverHttp2WithAPrivateCa) {
  const fs::path docroot = dir_ / "www";
  fs::create_directories(docroot);
  std::string inputs;
  std::map<std::string, std::string> bodies;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "photo" + std::to_string(i) + ".jpg";
    std::string body(20000 + 1000 * i, '\0');
    for (std::size_t b = 0; b < body.size(); ++b) body[b] = static_cast<char>((b * 131 + i * 7) % 251);
    std::ofstream(docroot / name, std::ios::binary) << body;
    bodies[name] = body;
  }
  const Http2Server server(dir_, docroot);
  ASSERT_TRUE(server.up()) << read_file((dir_ / "openssl.log").string()) << read_file((dir_ / "nghttpd.log").string());
  for (const auto& [name, body] : bodies) inputs += server.url(name) + "\n";
  CliRun r = download("-j 1 --http-retries 0 --ca-file " + (dir_ / "ca.pem").string() + " --input-file -", inputs);
  ASSERT_EQ(r.status, 0) << r.err << read_file((dir_ / "nghttpd.log").string());
  const auto results = by_input(r.out);
  ASSERT_EQ(results.size(), bodies.size());
  for (const auto& [name, body] : bodies) {
    const json& j = results.at(server.url(name));
    EXPECT_EQ(j["status"], "ok") << j;
    EXPECT_EQ(j["output"]["http_status"], 200) << j;
    EXPECT_EQ(read_file(out_ + "/" + name), body) << name;
  }
  fs::remove_all(out_);
  r = download("--http-retries 0 " + server.url("photo0.jpg"));
  EXPECT_EQ(r.status, 1) << r.err;
  const json refused = json_lines(r.out).at(0);
  EXPECT_EQ(refused["status"], "error") << refused;
  EXPECT_NE(refused["error"].get<std::string>().find("certificate"), std::string::npos) << refused;
  EXPECT_TRUE(files().empty());
}
