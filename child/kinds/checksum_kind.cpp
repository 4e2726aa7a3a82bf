// checksum: the SHA-256 or BLAKE2b-512 of a file or of an http(s) URL's body, printed as
// `sha256sum` and `b2sum` print theirs ("HEX  NAME"), so that `procpool run checksum
// DIR > SUMS` makes a file `sha256sum -c SUMS` checks. Files are read and bodies hashed
// in 1 MiB pieces as they arrive: memory stays bounded whatever the size. A folder given
// to `run` becomes every regular file under it (as `find DIR -type f`, symlinks not
// followed), sorted. The digests are OpenSSL's (libcrypto, already loaded by libcurl
// for https; SHA-NI and AVX2 code paths), not a hand-written hash.
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "child/kinds/file_io.hpp"
#include "child/kinds/folder_files.hpp"
#include "child/kinds/http_limits.hpp"
#include "child/kinds/http_loader.hpp"
#include "child/task_api.hpp"

namespace procpool::kinds {

namespace {

constexpr std::size_t kPiece = 1 << 20;

struct DigestContext {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

// "e3b0...  name" as sha256sum prints it: a name with a backslash or a newline is
// escaped and the line starts with a backslash.
std::string sum_line(const unsigned char* digest, unsigned length, const std::string& name) {
  static const char* const kHex = "0123456789abcdef";
  std::string escaped;
  bool escape = false;
  for (char c : name) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
    escape |= c == '\\' || c == '\n';
  }
  std::string line = escape ? "\\" : "";
  for (unsigned i = 0; i < length; ++i) {
    line += kHex[digest[i] >> 4];
    line += kHex[digest[i] & 15];
  }
  return line + "  " + escaped;
}

class ChecksumKind final : public TaskKind {
 public:
  ChecksumKind(const EVP_MD* md, HttpLimits limits) : md_(md), limits_(std::move(limits)), buffer_(kPiece) {}

  void run(std::string_view input, TaskOutput& out) override {
    const std::string name(input);
    DigestContext d;
    if (!d.ctx || EVP_DigestInit_ex(d.ctx.get(), md_, nullptr) != 1) return out.fail("checksum: cannot start the digest");
    const bool url = is_http_address(name);
    const std::string problem = url ? hash_url(name, d) : hash_file(name, d);
    if (!problem.empty()) return out.fail(name + ": " + problem);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (EVP_DigestFinal_ex(d.ctx.get(), digest, &length) != 1) return out.fail(name + ": the digest failed");
    out.data = sum_line(digest, length, name);
  }

 private:
  std::string hash_file(const std::string& path, DigestContext& d) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return std::strerror(errno);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only
    std::string problem;
    int64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem = std::strerror(errno);  // EISDIR for a folder given to serve or the API
        break;
      }
      if (n == 0) break;
      total += n;
      if (total > limits_.max_bytes) {
        problem = "over the limit of " + std::to_string(limits_.max_bytes) + " bytes (max-size)";
        break;
      }
      if (EVP_DigestUpdate(d.ctx.get(), buffer_.data(), static_cast<std::size_t>(n)) != 1) {
        problem = "the digest failed";
        break;
      }
    }
    ::close(fd);
    return problem;
  }

  std::string hash_url(const std::string& url, DigestContext& d) {
    const EVP_MD* md = md_;
    bool failed = false;
    const BodySink sink{[&] { failed = EVP_DigestInit_ex(d.ctx.get(), md, nullptr) != 1; },
                        [&](std::string_view piece) {
                          failed |= EVP_DigestUpdate(d.ctx.get(), piece.data(), piece.size()) != 1;
                        }};
    std::string error = http_api().fetch_streamed(url, limits_, sink);  // throws if no module
    if (error.empty() && failed) return "the digest failed";
    return error;
  }

  const EVP_MD* md_;
  HttpLimits limits_;
  std::vector<unsigned char> buffer_;
};

}  // namespace

void register_checksum_kind(KindRegistry& registry) {
  KindHooks hooks;
  hooks.expand_inputs = [](const std::vector<std::string>& inputs, const KindOptions&, unsigned) {
    return expand_folders(inputs, FolderWalk{true, false, {}});  // as find DIR -type f
  };
  hooks.expands_each_input = [](const KindOptions&) { return true; };
  hooks.stdout_line = [](std::string_view output) { return std::string(output); };
  hooks.local_path = [](std::string_view input) { return !is_http_address(input); };
  hooks.inputs_hint = ", or a folder (every file under it)";
  std::vector<OptionSpec> options{
      opt::choice("algorithm", "sha256", {"sha256", "blake2b"}, "the digest: sha256 (sha256sum) or blake2b (b2sum)")};
  for (OptionSpec& limit : http_limit_options("1T")) options.push_back(std::move(limit));
  registry.add({"checksum", "sha256sum (or b2sum) of a file, a folder's files or a URL, in bounded memory",
                [](const KindOptions& o) {
                  const EVP_MD* md = o.get("algorithm", "") == "blake2b" ? EVP_blake2b512() : EVP_sha256();
                  return std::make_unique<ChecksumKind>(md, http_limits_from(o));
                },
                std::move(options), std::move(hooks)});
}

}  // namespace procpool::kinds
