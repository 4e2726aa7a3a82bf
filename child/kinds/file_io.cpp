#include "child/kinds/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "child/kinds/file_mode.hpp"

namespace procpool::kinds {

namespace fs = std::filesystem;

std::string read_file_limited(const std::string& path, uint64_t max_bytes, std::string* bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? "no such file" : std::strerror(errno);
  std::string problem;
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    problem = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    problem = std::to_string(st.st_size) + " bytes is over the limit of " + std::to_string(max_bytes) + " bytes";
  } else {
    bytes->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes->size()) {
      const ssize_t n = ::read(fd, bytes->data() + got, bytes->size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    bytes->resize(got);  // a file that shrank while we read it is what we got
    if (bytes->empty()) problem = "empty file";
  }
  ::close(fd);
  return problem;
}

bool is_http_address(std::string_view input) {
  return input.rfind("http://", 0) == 0 || input.rfind("https://", 0) == 0;
}

std::string temp_path_beside(const std::string& dest) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path d(dest);
  return (d.parent_path() / ("." + d.stem().string() + "." + std::to_string(getpid()) + "." +
                             std::to_string(counter++) + ".tmp" + d.extension().string()))
      .string();
}

std::string without_trailing_slashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string prepare_output_folder(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) return dir + " is a file, not a folder";
  fs::create_directories(dir, ec);
  if (ec) return "cannot create folder " + dir + ": " + ec.message();
  // Permission bits do not say it all (a read-only mount, root's rights): a probe file does.
  const std::string probe = (fs::path(dir) / (".procpool-probe-" + std::to_string(getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot write in " + dir + ": " + std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

void commit_temp(const std::string& tmp, const std::string& dest, bool replace) {
  int rc = replace ? std::rename(tmp.c_str(), dest.c_str())
                   : renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && !replace && (errno == EINVAL || errno == ENOSYS)) {
    // A file system without RENAME_NOREPLACE: link() also refuses an existing name.
    rc = ::link(tmp.c_str(), dest.c_str());
    if (rc == 0) ::unlink(tmp.c_str());
  }
  if (rc != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    if (err == EEXIST) throw FileExists(dest + " exists (--overwrite replaces it)");
    throw std::runtime_error("cannot rename " + tmp + " to " + dest + ": " + std::strerror(err));
  }
}

void write_file_atomically(const std::string& dest, const std::string& bytes, bool replace) {
  const std::string tmp = temp_path_beside(dest);
  // Owner only (as every file procpool creates), never through a symlink.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const int write_errno = errno;
  const bool moded = ::fchmod(fd, output_file_mode()) == 0;
  const bool closed = ::close(fd) == 0 && moded;
  if (done != bytes.size() || !closed) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(done != bytes.size() ? write_errno : errno));
  }
  commit_temp(tmp, dest, replace);
}

}  // namespace procpool::kinds
