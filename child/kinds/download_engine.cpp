// The download engine (in procpool_http.so): URLs to files, many transfers in flight per
// child on one curl multi handle (connections kept alive and reused across tasks, HTTP/2 multiplexed where
// offered). A body goes to a hidden temporary in the output folder and is renamed to its
// final name only when complete, so a failed download leaves nothing behind; the name
// comes from the URL (url_names.hpp) and never replaces an existing file unless asked.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/file_mode.hpp"
#include "child/kinds/http_curl.hpp"
#include "child/kinds/http_module.hpp"
#include "child/kinds/media_types.hpp"
#include "child/kinds/url_names.hpp"

namespace procpool::kinds {

namespace {

namespace fs = std::filesystem;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Our temporaries: ".<name>.procpool-<pid>-<n>.part". A child killed mid-transfer leaves
// one behind; the next child to start in that folder removes those of dead processes.
constexpr std::string_view kTempTag = ".procpool-";
constexpr std::string_view kTempSuffix = ".part";

void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto tag = name.rfind(kTempTag);
    if (name.empty() || name[0] != '.' || tag == std::string::npos || name.size() < kTempSuffix.size() ||
        name.compare(name.size() - kTempSuffix.size(), kTempSuffix.size(), kTempSuffix) != 0)
      continue;
    const long pid = std::strtol(name.c_str() + tag + kTempTag.size(), nullptr, 10);
    struct stat st{};
    if (pid <= 0 || lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its writer lives
    unlink(entry.path().c_str());  // best effort: one left is only a stray hidden file, swept next time
  }
}

class CurlDownloadEngine final : public DownloadEngine {
 public:
  using Finished = AsyncTaskKind::Finished;
  explicit CurlDownloadEngine(DownloadSettings settings) : s_(std::move(settings)) {}
  ~CurlDownloadEngine() override {
    for (auto& [token, t] : transfers_) {
      if (t->in_multi) curl_multi_remove_handle(multi_, t->easy);
      discard_temp(*t);
      curl_easy_cleanup(t->easy);
    }
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_);
  }

  void start() override {
    std::error_code ec;
    fs::create_directories(s_.out_dir, ec);
    if (ec || !fs::is_directory(s_.out_dir))
      throw std::runtime_error("cannot use output folder " + s_.out_dir + ": " +
                               (ec ? ec.message() : std::string("not a folder")));
    remove_stale_temporaries(s_.out_dir);
    // PROCPOOL_NAMED_TEMPORARIES=1 forces named temporaries (tests of that path, or a
    // file system where linking unnamed files misbehaves).
    const char* named = std::getenv("PROCPOOL_NAMED_TEMPORARIES");
    unnamed_temporaries_ = (named == nullptr || std::string(named) != "1") && can_link_unnamed_files(s_.out_dir);
    multi_ = curl_multi_init();
    headers_ = make_header_list(s_.limits.headers);
  }

  void begin(uint64_t token, std::string url) override {
    if (!is_http_url(url)) throw std::invalid_argument("not an http:// or https:// URL");
    auto t = std::make_unique<Transfer>();
    t->kind = this;
    t->token = token;
    t->url = std::move(url);
    t->name = safe_file_name(url_path(t->url));
    if (idle_.empty()) {
      t->easy = curl_easy_init();
    } else {
      t->easy = idle_.back();
      idle_.pop_back();
      curl_easy_reset(t->easy);
    }
    if (t->easy == nullptr) throw std::runtime_error("libcurl: out of memory");
    CURL* easy = t->easy;
    apply_http_limits(easy, s_.limits, headers_);
    curl_easy_setopt(easy, CURLOPT_URL, t->url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &CurlDownloadEngine::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &CurlDownloadEngine::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    // Our own stall detection: libcurl's low-speed limit averages over several seconds,
    // so a body that stops after a fast start would be noticed only seconds late.
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &CurlDownloadEngine::on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, t.get());
    Transfer& ref = *t;
    transfers_[token] = std::move(t);
    add(ref);
  }

  void poll(int wake_fd, int timeout_ms, const Finished& finished) override {
    if (progress(finished)) return;  // something finished: report it before any wait
    int wait_ms = timeout_ms;
    if (!waiting_.empty()) wait_ms = static_cast<int>(std::clamp<int64_t>(waiting_.begin()->first - now_ms(), 0, wait_ms));
    curl_waitfd extra{wake_fd, CURL_WAIT_POLLIN, 0};
    // Unlike curl_multi_wait, curl_multi_poll waits even when no transfer is active (all
    // of them waiting out a backoff).
    curl_multi_poll(multi_, wake_fd >= 0 ? &extra : nullptr, wake_fd >= 0 ? 1u : 0u, wait_ms, nullptr);
    progress(finished);
  }

  std::size_t running() const override { return transfers_.size(); }

 private:
  struct Transfer {
    CurlDownloadEngine* kind = nullptr;
    uint64_t token = 0;
    std::string url;
    std::string name;  // safe file name from the URL
    CURL* easy = nullptr;
    bool in_multi = false;
    int fd = -1;  // the temporary, opened at the first body byte of a 2xx response
    std::string temp;  // the temporary's name if it has one
    std::string path;  // the final path, once placed
    int64_t bytes = 0;
    long status = 0;
    std::string content_type;
    std::string retry_after;  // of the last response
    enum class Abort { None, Status, Type, Size, Disk, Stall } abort = Abort::None;
    curl_off_t seen_bytes = 0;  // bytes moved either way, as of seen_at_ms
    int64_t seen_at_ms = 0;
    std::string disk_error;
    int64_t retries = 0;
    char errbuf[CURL_ERROR_SIZE] = {};
  };

  static std::string url_path(const std::string& url) {
    CURLU* u = curl_url();
    std::string path;
    char* p = nullptr;
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK && curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK)
      path = p;
    curl_free(p);
    curl_url_cleanup(u);
    return path;
  }

  void add(Transfer& t) {
    t.fd = -1;
    t.bytes = 0;
    t.status = 0;
    t.content_type.clear();
    t.retry_after.clear();
    t.abort = Transfer::Abort::None;
    t.errbuf[0] = '\0';
    t.seen_bytes = 0;
    t.seen_at_ms = now_ms();
    curl_multi_add_handle(multi_, t.easy);
    t.in_multi = true;
  }

  // Runs transfers, reports finished ones and restarts retries that are due. True if
  // any task finished.
  bool progress(const Finished& finished) {
    int active = 0;
    curl_multi_perform(multi_, &active);
    bool any = false;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode rc = msg->data.result;  // msg is invalid after remove_handle
      curl_multi_remove_handle(multi_, msg->easy_handle);
      t->in_multi = false;
      any |= complete(*t, rc, finished);
    }
    const int64_t now = now_ms();
    bool restarted = false;
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      const auto it = transfers_.find(waiting_.begin()->second);
      waiting_.erase(waiting_.begin());
      if (it != transfers_.end()) {
        add(*it->second);
        restarted = true;
      }
    }
    if (restarted) curl_multi_perform(multi_, &active);
    return any;
  }

  // One attempt ended. True if the task finished (reported), false if it will retry.
  bool complete(Transfer& t, CURLcode rc, const Finished& finished) {
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status);
    std::string error;
    bool retryable = false;
    using Abort = Transfer::Abort;
    if (rc == CURLE_OK && t.status >= 200 && t.status <= 299 && t.abort == Abort::None) {
      if (t.fd < 0) {  // an empty body: no write callback ran
        record_content_type(t);
        if (!media_type_accepted(t.content_type, s_.accept)) {
          t.abort = Abort::Type;
        } else if (!open_temp(t)) {
          t.abort = Abort::Disk;
        }
      }
      if (t.abort == Abort::None) {
        TaskOutput out;
        error = place(t);
        if (error.empty()) {
          out.output_is_json = true;
          out.data = nlohmann::json{{"path", t.path},
                                    {"bytes", t.bytes},
                                    {"http_status", t.status},
                                    {"content_type", media_type(t.content_type)},
                                    {"retries", t.retries}}
                         .dump();
          return report(t, out, finished);
        }
      }
    }
    if (error.empty()) {
      if (t.abort == Abort::Type) {
        error = "content type '" + media_type(t.content_type) + "' is not accepted (--accept " + accept_list() + ")";
      } else if (t.abort == Abort::Size || rc == CURLE_FILESIZE_EXCEEDED) {
        error = "body over the limit of " + std::to_string(s_.limits.max_bytes) + " bytes (--max-size)";
      } else if (t.abort == Abort::Disk) {
        error = t.disk_error;
      } else if (t.abort == Abort::Status || (rc == CURLE_OK && (t.status < 200 || t.status > 299))) {
        error = "HTTP " + std::to_string(t.status);
        retryable = retryable_status(t.status);
      } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        error = "more than " + std::to_string(s_.limits.max_redirects) + " redirects (--max-redirects)";
      } else if (t.abort == Abort::Stall || (rc == CURLE_OPERATION_TIMEDOUT && std::strstr(t.errbuf, "too slow"))) {
        error = "stalled: no data for " + std::to_string(s_.limits.stall_timeout_s) + " s (--stall-timeout)";
        retryable = true;
      } else {
        error = t.errbuf[0] != '\0' ? t.errbuf : curl_easy_strerror(rc);
        retryable = retryable_error(rc);
      }
    }
    discard_temp(t);
    if (retryable && t.retries < s_.limits.retries) {
      ++t.retries;
      int64_t delay = backoff_ms(t.retries, s_.limits.retry_max_wait_ms);
      if (const auto after = parse_retry_after_ms(t.retry_after, std::time(nullptr)))
        delay = std::min(std::max(delay, *after), s_.limits.retry_max_wait_ms);
      waiting_.emplace(now_ms() + delay, t.token);
      return false;
    }
    TaskOutput out;
    out.fail(t.retries == 0 ? error : error + " (after " + std::to_string(t.retries + 1) + " attempts)");
    return report(t, out, finished);
  }

  bool report(Transfer& t, TaskOutput& out, const Finished& finished) {
    const uint64_t token = t.token;
    idle_.push_back(t.easy);
    transfers_.erase(token);  // t is gone
    finished(token, out);
    return true;
  }

  std::string accept_list() const {
    std::string out;
    for (const std::string& a : s_.accept) out += (out.empty() ? "" : ",") + a;
    return out;
  }

  static void record_content_type(Transfer& t) {
    char* ct = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &ct);
    t.content_type = ct != nullptr ? ct : "";
  }

  // The body's file. Preferably unnamed (O_TMPFILE): it has no name until complete, so
  // a worker killed mid-transfer leaves nothing at all, and it costs one directory
  // operation instead of two (create + rename: measured 0.4 ms each on ext4 here, with
  // two workers writing into one folder). Otherwise a hidden named temporary.
  bool open_temp(Transfer& t) {
    t.temp.clear();
    if (unnamed_temporaries_) {
      t.fd = ::open(s_.out_dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
      if (t.fd >= 0) return true;
    }
    t.temp = s_.out_dir + "/." + t.name + std::string(kTempTag) + std::to_string(getpid()) + "-" +
             std::to_string(++temp_counter_) + std::string(kTempSuffix);
    // Owner only, never through a symlink, never an existing file.
    t.fd = ::open(t.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (t.fd < 0) {
      t.disk_error = "cannot create a file in " + s_.out_dir + ": " + std::strerror(errno);
      t.temp.clear();
      return false;
    }
    return true;
  }

  static void discard_temp(Transfer& t) {
    if (t.fd >= 0) ::close(t.fd);
    t.fd = -1;
    if (!t.temp.empty()) ::unlink(t.temp.c_str());
    t.temp.clear();
  }

  // Gives the complete body its final name: the URL's, or "name-N.ext" when that exists
  // (unless --overwrite). Each attempt both checks and creates the name in one step
  // (linkat of the unnamed file, or renameat2 NOREPLACE), so two workers never take the
  // same name and an existing file is never replaced. On success t.path is the final
  // path; otherwise returns an error message.
  std::string place(Transfer& t) {
    const std::string fd_path = "/proc/self/fd/" + std::to_string(t.fd);
    if (::fchmod(t.fd, output_file_mode()) != 0) return "cannot set the mode of " + t.name + ": " + std::strerror(errno);
    std::string error;
    for (unsigned n = 0; n < kMaxCollisions && error.empty(); ++n) {
      const std::string dest = s_.out_dir + "/" + (n == 0 ? t.name : numbered_name(t.name, n));
      if (t.temp.empty() && s_.overwrite) {
        // Named first (hidden), then renamed over the destination.
        t.temp = s_.out_dir + "/." + t.name + std::string(kTempTag) + std::to_string(getpid()) + "-" +
                 std::to_string(++temp_counter_) + std::string(kTempSuffix);
        if (::linkat(AT_FDCWD, fd_path.c_str(), AT_FDCWD, t.temp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
          error = "cannot create a file in " + s_.out_dir + ": " + std::strerror(errno);
          t.temp.clear();
          break;
        }
      }
      int rc;
      if (t.temp.empty()) {
        rc = ::linkat(AT_FDCWD, fd_path.c_str(), AT_FDCWD, dest.c_str(), AT_SYMLINK_FOLLOW);
      } else if (s_.overwrite) {
        rc = ::rename(t.temp.c_str(), dest.c_str());
      } else {
        rc = ::renameat2(AT_FDCWD, t.temp.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
          // A file system without RENAME_NOREPLACE: link() fails on an existing name too.
          rc = ::link(t.temp.c_str(), dest.c_str());
          if (rc == 0) ::unlink(t.temp.c_str());
        }
      }
      if (rc == 0) {
        t.temp.clear();  // it has its final name now
        t.path = dest;
        break;
      }
      if (errno != EEXIST) error = "cannot create " + dest + ": " + std::strerror(errno);
      if (n + 1 == kMaxCollisions)
        error = "more than " + std::to_string(kMaxCollisions) + " files named like " + t.name + " in " + s_.out_dir;
    }
    const int fd = t.fd;
    t.fd = -1;
    if (::close(fd) != 0 && error.empty()) error = "cannot write " + t.path + ": " + std::strerror(errno);
    return error;
  }

  // Whether this folder takes unnamed files that can be linked in later (O_TMPFILE needs
  // file system support, linking it needs /proc): tried once, at start.
  static bool can_link_unnamed_files(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const std::string probe = dir + "/.procpool-probe-" + std::to_string(getpid());
    const bool ok = ::linkat(AT_FDCWD, ("/proc/self/fd/" + std::to_string(fd)).c_str(), AT_FDCWD, probe.c_str(),
                             AT_SYMLINK_FOLLOW) == 0;
    if (ok) ::unlink(probe.c_str());
    ::close(fd);
    return ok;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    Transfer& t = *static_cast<Transfer*>(user);
    CurlDownloadEngine& kind = *t.kind;
    const size_t bytes = size * n;
    using Abort = Transfer::Abort;
    if (t.fd < 0) {  // the first bytes of the final response decide whether we keep it
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status);
      if (t.status < 200 || t.status > 299) {
        t.abort = Abort::Status;
        return 0;  // any count but `bytes` ends the transfer (CURLE_WRITE_ERROR)
      }
      record_content_type(t);
      if (!media_type_accepted(t.content_type, kind.s_.accept)) {
        t.abort = Abort::Type;
        return 0;
      }
      if (!kind.open_temp(t)) {
        t.abort = Abort::Disk;
        return 0;
      }
    }
    if (t.bytes + static_cast<int64_t>(bytes) > kind.s_.limits.max_bytes) {
      t.abort = Abort::Size;
      return 0;
    }
    for (size_t done = 0; done < bytes;) {
      const ssize_t w = ::write(t.fd, data + done, bytes - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        t.disk_error = "cannot write in " + kind.s_.out_dir + ": " + std::strerror(errno);
        t.abort = Abort::Disk;
        return 0;
      }
      done += static_cast<size_t>(w);
    }
    t.bytes += static_cast<int64_t>(bytes);
    return bytes;
  }

  // Called about once a second, and as data moves. Non-zero ends the transfer.
  static int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal;
    (void)ultotal;
    Transfer& t = *static_cast<Transfer*>(user);
    const int64_t now = now_ms();
    if (dlnow + ulnow != t.seen_bytes) {
      t.seen_bytes = dlnow + ulnow;
      t.seen_at_ms = now;
      return 0;
    }
    if (now - t.seen_at_ms < t.kind->s_.limits.stall_timeout_s * 1000) return 0;
    t.abort = Transfer::Abort::Stall;
    return 1;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    Transfer& t = *static_cast<Transfer*>(user);
    const std::string_view line(data, size * n);
    if (line.substr(0, 5) == "HTTP/") {
      t.retry_after.clear();  // a new response (after a redirect or a 100 Continue)
    } else if (starts_with_ci(line, "retry-after:")) {
      t.retry_after = std::string(line.substr(12, 64));
    }
    return size * n;
  }

  static constexpr unsigned kMaxCollisions = 1000;

  DownloadSettings s_;
  CURLM* multi_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;
  std::multimap<int64_t, uint64_t> waiting_;  // retries by due time (ms, steady clock)
  std::vector<CURL*> idle_;                   // easy handles to reuse
  uint64_t temp_counter_ = 0;
  bool unnamed_temporaries_ = false;
};

}  // namespace

std::unique_ptr<DownloadEngine> make_download_engine(const DownloadSettings& settings) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) throw std::runtime_error("libcurl cannot start");
  return std::make_unique<CurlDownloadEngine>(settings);
}

}  // namespace procpool::kinds
