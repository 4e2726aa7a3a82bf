#include "child/kinds/exec_printer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "child/kinds/exec_spool.hpp"

namespace procpool::kinds {

namespace {

// Writes it all; false when the reader is gone (EPIPE: SIGPIPE is ignored in run) or fd
// fails otherwise.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A spool folder and its files (it holds no folders).
void remove_spool_folder(const std::string& folder) {
  if (DIR* dir = ::opendir(folder.c_str())) {
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') ::unlink((folder + "/" + e->d_name).c_str());
    ::closedir(dir);
  }
  ::rmdir(folder.c_str());
}

class ExecPrinter final : public RunPrinter {
 public:
  ExecPrinter(std::string folder, const KindOptions& options, bool results_on_stdout)
      : folder_(std::move(folder)), keep_order_(options.flag("keep-order")), tag_(options.flag("tag")),
        line_buffer_(options.flag("line-buffer")), print_stdout_(!results_on_stdout) {}
  ~ExecPrinter() override { remove_folder(); }
  ExecPrinter(const ExecPrinter&) = delete;
  ExecPrinter& operator=(const ExecPrinter&) = delete;

  void submitted(uint64_t id, std::string_view input) override {
    if (tag_ && line_buffer_) inputs_[id] = std::string(input);  // lines are tagged before the job ends
  }

  bool add(const Result& r) override {
    // A worker that died mid-job left the job's output in its own files: named for the
    // job now, so that --keep-order finds them there later.
    if (r.worker_died && r.worker_pid > 0)
      for (const Stream s : {Stream::out, Stream::err}) {
        const std::string left = worker_spool_file(folder_, r.worker_pid, s);
        [[maybe_unused]] const int renamed = std::rename(left.c_str(), spool_file(folder_, r.id, last_attempt(r.attempts), s).c_str());
      }
    if (!keep_order_) return print_job(r.id, r.attempts, r.input);
    held_[r.id] = {r.attempts, std::string(r.input)};
    // Ids are 0, 1, 2, ... in input order, each with exactly one result.
    for (auto it = held_.begin(); it != held_.end() && it->first == next_; it = held_.erase(it), ++next_)
      if (!print_job(it->first, it->second.attempts, it->second.input)) return false;
    return true;
  }

  // --line-buffer: the whole lines running jobs have written since the last look (with
  // --keep-order, only the job whose turn it is).
  bool tick() override {
    if (!line_buffer_ || closed_) return !closed_;
    DIR* dir = ::opendir(folder_.c_str());
    if (dir == nullptr) return true;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(dir);
    for (const std::string& name : names) {
      if (name[0] == 'p') continue;  // a worker's own pair: not named per job with --line-buffer
      const uint64_t id = std::strtoull(name.c_str(), nullptr, 10);
      if (keep_order_ && id != next_) continue;
      const bool is_out = name.size() > 4 && name.compare(name.size() - 4, 4, ".out") == 0;
      if (is_out && !print_stdout_) continue;
      const auto input = inputs_.find(id);
      print_from(folder_ + "/" + name, is_out ? STDOUT_FILENO : STDERR_FILENO, true,
                 input != inputs_.end() ? std::string_view(input->second) : std::string_view());
    }
    return !closed_;
  }

  void finish() override { remove_folder(); }

 private:
  struct Ended {
    uint32_t attempts = 0;
    std::string input;
  };

  static uint32_t last_attempt(uint32_t attempts) { return attempts == 0 ? 1 : attempts; }

  // The last attempt's output, stdout then stderr; every attempt's files removed.
  bool print_job(uint64_t id, uint32_t attempts, std::string_view input) {
    const uint32_t last = last_attempt(attempts);
    for (const Stream s : {Stream::out, Stream::err}) {
      const std::string path = spool_file(folder_, id, last, s);
      if (s == Stream::err || print_stdout_) print_from(path, s == Stream::out ? STDOUT_FILENO : STDERR_FILENO, false, input);
      for (uint32_t a = 1; a <= last; ++a) {
        const std::string file = spool_file(folder_, id, a, s);
        ::unlink(file.c_str());
        offsets_.erase(file);
      }
    }
    inputs_.erase(id);
    return !closed_;
  }

  // Copies path from where it was printed up to its end (whole_lines: up to its last
  // newline) onto fd, each line after tag and a tab when --tag.
  void print_from(const std::string& path, int fd, bool whole_lines, std::string_view tag) {
    if (closed_) return;
    struct stat st{};
    // Most commands write nothing to one of the two: no open for an empty file (or none,
    // when the command never started).
    if (::lstat(path.c_str(), &st) != 0 || st.st_size == 0) return;
    const auto printed = offsets_.find(path);
    off_t at = printed != offsets_.end() ? printed->second : 0;
    if (st.st_size <= at) return;
    const int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return;
    if (::fstat(in, &st) == 0) {
      const bool ok = tag_ || whole_lines ? copy_lines(in, at, st.st_size, fd, whole_lines, tag)
                                          : copy_raw(in, at, st.st_size, fd);
      if (!ok) closed_ = true;
    }
    ::close(in);
    if (whole_lines) offsets_[path] = at;
  }

  // Without --tag or --line-buffer: sendfile, no copy through here (100 MB outputs).
  bool copy_raw(int in, off_t& at, off_t end, int fd) const {
    while (at < end) {
      const ssize_t n = ::sendfile(fd, in, &at, static_cast<std::size_t>(end - at));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EINVAL || errno == ENOSYS)) return copy_lines(in, at, end, fd, false, {});
      if (n <= 0) return false;
    }
    return true;
  }

  // Line by line; a last line without its newline is left for later when whole_lines.
  bool copy_lines(int in, off_t& at, off_t end, int fd, bool whole_lines, std::string_view tag) const {
    std::string block(65536, '\0'), out;
    while (at < end) {
      const ssize_t n = ::pread(in, block.data(), std::min<std::size_t>(block.size(), static_cast<std::size_t>(end - at)), at);
      if (n <= 0) return true;
      std::size_t used = 0;
      out.clear();
      for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
        const void* nl = std::memchr(block.data() + i, '\n', static_cast<std::size_t>(n) - i);
        const std::size_t stop = nl != nullptr ? static_cast<const char*>(nl) - block.data() + 1 : static_cast<std::size_t>(n);
        const bool complete = nl != nullptr;
        // A partial line: the rest of it is in the next block or not yet written.
        if (!complete && (whole_lines || at + n < end)) break;
        if (tag_) out.append(tag).push_back('\t');
        out.append(block.data() + i, stop - i);
        used = stop;
        i = stop;
      }
      if (used == 0) {
        // A line longer than a block: grow until it fits (whole lines are the promise).
        if (static_cast<std::size_t>(n) == block.size()) {
          block.resize(block.size() * 2);
          continue;
        }
        return true;
      }
      if (!write_all(fd, out.data(), out.size())) return false;
      at += static_cast<off_t>(used);
    }
    return true;
  }

  void remove_folder() {
    if (folder_.empty()) return;
    remove_spool_folder(folder_);
    folder_.clear();
  }

  std::string folder_;
  bool keep_order_, tag_, line_buffer_, print_stdout_;
  bool closed_ = false;                 // stdout's or stderr's reader is gone
  std::map<uint64_t, Ended> held_;      // --keep-order: ended, waiting for those before
  uint64_t next_ = 0;                   // --keep-order: the next id to print
  std::map<std::string, off_t> offsets_;  // how far each spool file was printed
  std::map<uint64_t, std::string> inputs_;  // --tag --line-buffer: running jobs' inputs
};

// Spool folders of runs that were killed (SIGKILL gives no chance to clean up): those of
// this user whose run's pid is gone. Named procpool-UID-spool-PID-XXXXXX.
void remove_stale_folders(const std::string& base) {
  const std::string mine = "procpool-" + std::to_string(::getuid()) + "-spool-";
  DIR* dir = ::opendir(base.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.compare(0, mine.size(), mine) != 0) continue;
    const long pid = std::strtol(name.c_str() + mine.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(base + "/" + name);
  }
  ::closedir(dir);
  for (const std::string& folder : stale) {
    struct stat st{};
    // Only a folder of ours, as mkdtemp made it: never follow a link someone put there.
    if (::lstat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::getuid()) remove_spool_folder(folder);
  }
}

}  // namespace

std::unique_ptr<RunPrinter> make_exec_printer(KindOptions& options, bool results_on_stdout) {
  if (options.flag("ungroup")) return nullptr;
  std::string base = options.get("tmpdir", "");
  if (base.empty()) {
    const char* env = std::getenv("TMPDIR");
    base = env != nullptr && *env != '\0' ? env : "/tmp";
  }
  remove_stale_folders(base);
  std::string templ =
      base + "/procpool-" + std::to_string(::getuid()) + "-spool-" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)  // mode 0700: the outputs are the user's alone
    throw std::invalid_argument("exec: cannot make a spool folder in " + base + " (--tmpdir): " + std::strerror(errno));
  options.set("tmpdir", templ);
  return std::make_unique<ExecPrinter>(templ, options, results_on_stdout);
}

}  // namespace procpool::kinds
