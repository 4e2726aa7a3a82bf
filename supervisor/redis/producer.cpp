#include "supervisor/redis/producer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "ipc/clock.hpp"
#include "ipc/kind_schema.hpp"
#include "supervisor/redis/client.hpp"
#include "supervisor/redis/queue.hpp"

namespace procpool::supervisor::redis {

namespace {

std::string client_id() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

std::string text(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The producer's connection. Once a command fails (the connection was lost), it connects
// again with backoff (100 ms doubling to 2 s) and repeats the command, until
// settings.reconnect_ms have passed since the first failure without one succeeding.
class Connection {
 public:
  explicit Connection(const ProducerSettings& settings) : settings_(settings) { connect(); }
  // Runs f(client) until it gets through.
  template <class F>
  auto retry(F&& f) {
    for (;;) {
      try {
        if (!client_) connect();
        auto result = f(*client_);
        failing_since_ns_ = 0;
        return result;
      } catch (const RedisError& e) {
        client_.reset();
        const uint64_t now = ipc::monotonic_ns();
        if (failing_since_ns_ == 0) {
          failing_since_ns_ = now;
          std::fprintf(stderr, "procpool: Redis at %s: %s; trying again for %.0f s\n", settings_.address.c_str(),
                       e.what(), static_cast<double>(settings_.reconnect_ms) / 1000);
        }
        if (now - failing_since_ns_ >= settings_.reconnect_ms * 1'000'000) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms_));
        backoff_ms_ = std::min<uint64_t>(backoff_ms_ * 2, 2000);
      }
    }
  }

 private:
  void connect() {
    client_ = std::make_unique<Client>(parse_endpoint(settings_.address), std::chrono::milliseconds(2000),
                                       std::chrono::milliseconds(10000));
    backoff_ms_ = 100;
  }

  const ProducerSettings& settings_;
  std::unique_ptr<Client> client_;
  uint64_t failing_since_ns_ = 0;  // 0: the last command got through
  uint64_t backoff_ms_ = 100;
};

// A job's result lines on the producer's clock. A host's start_ms/end_ms count from its
// own pool's start, so lines of several hosts (and `procpool timeline` of them) would not
// line up: each job is placed to end when its answer arrived here (arrival_ms from the
// producer's start, late by the reply's trip only), its lines keeping their places within
// it, and each line names the host that ran it.
void place_on_our_clock(nlohmann::json& lines, double arrival_ms, const std::string& host) {
  const auto timed = [](const nlohmann::json& line) {
    return line.is_object() && line.contains("start_ms") && line["start_ms"].is_number() &&
           line.contains("end_ms") && line["end_ms"].is_number();
  };
  bool any = false;
  double last_end = 0;
  for (const nlohmann::json& line : lines)
    if (timed(line)) {
      last_end = any ? std::max(last_end, line["end_ms"].get<double>()) : line["end_ms"].get<double>();
      any = true;
    }
  const double shift = arrival_ms - last_end;
  const auto rounded = [](double ms) { return std::round(std::max(ms, 0.0) * 1000) / 1000; };  // µs, as run's
  for (nlohmann::json& line : lines) {
    if (!line.is_object()) continue;
    if (any && timed(line)) {
      line["start_ms"] = rounded(line["start_ms"].get<double>() + shift);
      line["end_ms"] = rounded(line["end_ms"].get<double>() + shift);
    }
    if (!host.empty() && !line.contains("host")) line["host"] = host;
  }
}

}  // namespace

int produce(const ProducerSettings& settings, const std::string& kind, const KindOptions& options,
            const std::vector<std::string>& inputs,
            const std::function<void(const std::string& line, const std::string& host)>& print) {
  using nlohmann::json;
  const uint64_t origin_ns = ipc::monotonic_ns();  // the producer's clock: its start_ms/end_ms are from here
  try {
    Connection redis(settings);
    const std::string client = client_id();
    const std::string reply = reply_key(settings.queue, client);
    std::map<std::string, std::vector<std::string>> jobs;  // job id -> its inputs
    std::vector<std::vector<std::string>> adds;
    const std::size_t chunk = std::max<std::size_t>(1, settings.chunk);
    for (std::size_t i = 0; i < inputs.size(); i += chunk) {
      const std::string job = client + ":" + std::to_string(i / chunk);
      std::vector<std::string> part(inputs.begin() + static_cast<std::ptrdiff_t>(i),
                                    inputs.begin() + static_cast<std::ptrdiff_t>(std::min(inputs.size(), i + chunk)));
      adds.push_back(xadd_command(settings.queue, {job, kind, options, reply, part}));
      jobs.emplace(job, std::move(part));
    }
    // Pipelined, 1000 entries a round trip. A batch cut off by a lost connection is sent
    // again whole: an entry added twice may run twice, but its job is answered once (the
    // done key), and the second answer is never added.
    for (std::size_t i = 0; i < adds.size(); i += 1000) {
      std::vector<std::vector<std::string>> batch(adds.begin() + static_cast<std::ptrdiff_t>(i),
                                                  adds.begin() + static_cast<std::ptrdiff_t>(std::min(adds.size(), i + 1000)));
      for (const Reply& r : redis.retry([&](Client& c) { return c.pipeline(batch); }))
        if (r.is_error()) throw RedisError("XADD: " + r.str);
    }
    bool all_ok = true;
    std::string last = "0";  // a lost connection resumes reading after the last result seen
    while (!jobs.empty()) {
      const Reply r = redis.retry([&](Client& c) {
        return c.command({"XREAD", "COUNT", "1000", "BLOCK", "2000", "STREAMS", reply, last});
      });
      if (r.is_error()) throw RedisError("XREAD: " + r.str);
      if (r.type != Reply::Type::Array || r.elements.empty()) continue;
      for (const Reply& entry : r.elements[0].elements.at(1).elements) {
        last = entry.elements.at(0).str;
        const Reply& fields = entry.elements.at(1);
        const json result =
            json::parse(fields.elements.size() >= 2 ? fields.elements[1].str : std::string(), nullptr, false);
        if (!result.is_object() || !result.contains("job") || !result["job"].is_string()) continue;
        const auto it = jobs.find(result["job"].get<std::string>());
        if (it == jobs.end()) continue;  // not ours, or answered already
        if (result.contains("results") && result["results"].is_array()) {
          json lines = result["results"];
          place_on_our_clock(lines, static_cast<double>(ipc::monotonic_ns() - origin_ns) / 1e6, text(result, "host"));
          for (const json& line : lines) {
            all_ok &= text(line, "status") == "ok";
            print(line.dump(-1, ' ', false, json::error_handler_t::replace), text(result, "host"));
          }
        } else {  // the whole job failed: lost with its hosts, or malformed
          all_ok = false;
          for (const std::string& in : it->second)
            print(json{{"kind", kind}, {"input", in}, {"status", text(result, "status")},
                       {"error", text(result, "cause")}}
                      .dump(-1, ' ', false, json::error_handler_t::replace),
                  text(result, "host"));
        }
        jobs.erase(it);
      }
    }
    redis.retry([&](Client& c) { return c.command({"DEL", reply}); });
    return all_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "procpool: Redis queue: %s\n", e.what());
    return 2;
  }
}

}  // namespace procpool::supervisor::redis
