#include "supervisor/service/server_impl.hpp"

#include <unistd.h>

#include <exception>

#include "supervisor/observe/status.hpp"

namespace procpool::supervisor {

// One HTTP/1.1 request per connection: GET /metrics gets the Prometheus text.
void Server::answer_scrape(uint64_t id) {
  Client& c = clients_.at(id);
  const auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > 8192) drop(id);  // not HTTP, or absurd: no answer
    return;
  }
  const bool metrics = c.in.rfind("GET /metrics ", 0) == 0 || c.in.rfind("GET /metrics?", 0) == 0;
  std::string body, head;
  if (metrics) {
    try {
      body = prometheus_metrics(pool_.segment_name(), getpid());
      head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
    } catch (const std::exception& e) {
      body = std::string(e.what()) + "\n";
      head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n";
    }
  } else {
    body = "procpool serves GET /metrics only\n";
    head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n";
  }
  c.in.clear();
  c.out += head + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  c.close_after_flush = true;
  flush(id);
}

}  // namespace procpool::supervisor
