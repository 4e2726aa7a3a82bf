// `procpool submit`: the client of `procpool serve` (serve.hpp).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "ipc/kind_schema.hpp"
#include "supervisor/service/server.hpp"

namespace procpool::supervisor {

namespace {

using nlohmann::json;

// Inputs per request line: well under the server's request limit.
constexpr std::size_t kBatchBytes = 256 << 10;

bool send_all(int fd, const std::string& data) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int submit(const std::string& socket_path, const std::string& kind, const KindOptions& options,
           const std::vector<std::string>& inputs) {
  const json options_json = json::parse(options_to_json(options));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "procpool submit: socket path too long: %s\n", socket_path.c_str());
    return 2;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "procpool submit: cannot connect to %s: %s (is procpool serve running?)\n",
                 socket_path.c_str(), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 2;
  }
  // All requests first (the server answers as results come), in batches.
  std::size_t requests = 0;
  for (std::size_t i = 0; i < inputs.size();) {
    json batch = json::array();
    std::size_t bytes = 0;
    while (i < inputs.size() && (batch.empty() || bytes + inputs[i].size() < kBatchBytes)) {
      bytes += inputs[i].size() + 4;
      batch.push_back(inputs[i++]);
    }
    json request{{"op", "submit"}, {"kind", kind}, {"inputs", batch}};
    if (!options.empty()) request["options"] = options_json;
    const std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (!send_all(fd, line)) {
      std::fprintf(stderr, "procpool submit: the server closed the connection\n");
      ::close(fd);
      return 2;
    }
    ++requests;
  }
  std::size_t done = 0;
  bool all_ok = true;
  std::string in;
  char buf[65536];
  while (done < requests) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "procpool submit: the server closed the connection before every result came\n");
      ::close(fd);
      return 1;
    }
    in.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = in.find('\n')) != std::string::npos;) {
      const std::string line = in.substr(0, nl);
      in.erase(0, nl + 1);
      const json j = json::parse(line, nullptr, false);
      const std::string op = j.is_object() && j.contains("op") && j["op"].is_string() ? j["op"].get<std::string>() : "";
      if (op == "error") {
        std::fprintf(stderr, "procpool submit: %s\n", j.value("message", std::string("error")).c_str());
        ::close(fd);
        return 2;
      }
      if (op == "done") {
        ++done;
      } else if (op.empty() && j.is_object() && j.contains("status")) {  // a result line, as `run` prints it
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        all_ok &= j["status"] == "ok";
      }
    }
  }
  ::close(fd);
  std::fflush(stdout);
  return all_ok ? 0 : 1;
}

}  // namespace procpool::supervisor
