#include "supervisor/service/server_impl.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "supervisor/observe/report.hpp"
#include "supervisor/service/protocol.hpp"

namespace procpool::supervisor {

using nlohmann::json;

void Server::handle(uint64_t client, const std::string& line) {
  auto error = [&](const std::string& message) { send(client, json{{"op", "error"}, {"message", message}}.dump()); };
  std::string problem;
  auto parsed = parse_request(line, &problem);
  if (!parsed) return error(problem);
  if (parsed->op == ClientRequest::Op::Stats) {
    json by_status = json::object();
    for (const auto& [status, n] : by_status_) by_status[status] = n;
    json workers = json::array();
    for (const WorkerStats& w : pool_.worker_stats())
      workers.push_back({{"slot", w.slot}, {"pid", w.pid}, {"tasks", w.tasks}, {"restarts", w.restarts}});
    return send(client, json{{"op", "stats"}, {"workers", workers}, {"unfinished", pool_.unfinished()},
                             {"done", done_}, {"by_status", by_status}, {"restarts", pool_.restarts()}}
                            .dump());
  }
  if (parsed->op == ClientRequest::Op::Cancel) {
    const uint64_t id = parsed->id;
    return send(client, json{{"op", "cancel"}, {"id", id}, {"cancelled", pool_.cancel(id, "cancelled by a client")}}.dump());
  }
  if (pool_.stopping()) return error("the pool is stopping");
  std::string why;
  const int index = kind_for(parsed->kind, parsed->options, &why, true);
  if (index < 0) return error(why);
  Request req;
  req.client = client;
  req.number = ++requests_made_;
  req.count = req.remaining = parsed->inputs.size();
  const uint64_t key = req.number;
  uint64_t first = 0;
  bool any = false;
  requests_.emplace(key, req);
  for (std::string& in : parsed->inputs) {
    const uint64_t id = pool_.submit(static_cast<uint8_t>(index), std::move(in));
    if (!any) first = id;
    any = true;
    routes_.emplace(id, key);
  }
  send(client, json{{"op", "accepted"}, {"request", key}, {"first_id", first}, {"count", req.count}}.dump());
}

// The pool's kind for a request: the configured one, or (with options) one defined for
// them; -1 with *why set when the kind is unknown or its options are refused.
int Server::kind_for(const std::string& kind, const KindOptions& options, std::string* why, bool name_kinds) {
  std::string names;
  for (std::size_t i = 0; i < request_.kinds.size(); ++i) {
    if (request_.kinds[i].name == kind && options.empty()) return static_cast<int>(i);
    names += (names.empty() ? "" : ", ") + request_.kinds[i].name;
  }
  try {
    const auto spec = request_.request_kind ? request_.request_kind(kind, options) : std::nullopt;
    if (!spec) {
      *why = "unknown task kind '" + kind + "'" + (name_kinds ? " (kinds: " + names + ")" : "");
      return -1;
    }
    const uint8_t id = pool_.add_kind(*spec);
    if (id == kind_names_.size()) {
      kind_names_.push_back(spec->name);
      spdlog::info("defined {} with a request's options ({} kinds now)", spec->name, kind_names_.size());
    }
    return id;
  } catch (const std::exception& e) {  // options refused, too many kinds, an unset ${VAR}
    *why = e.what();
  }
  return -1;
}

// --- PoolEvents
void Server::on_result(const Completion& c) {
  ++done_;
  ++by_status_[ipc::status_name(c.status)];
  const std::string line = result_json_line(c, kind_names_[c.kind], start_ns_);
  if (log_ != nullptr) {
    std::fwrite(line.data(), 1, line.size(), log_);
    std::fputc('\n', log_);
  }
  if (redis_ != nullptr && redis_->on_result(c, line, pool_.stopping())) return;
  const auto route = routes_.find(c.id);
  if (route == routes_.end()) return;
  const uint64_t request_key = route->second;
  routes_.erase(route);
  auto r = requests_.find(request_key);
  if (r == requests_.end()) return;
  Request& req = r->second;
  --req.remaining;
  if (c.status == ipc::Status::ok) ++req.ok;
  send(req.client, line);
  if (req.remaining == 0) {
    // A client told "done" finds its results in the log: flushed first.
    if (log_ != nullptr) std::fflush(log_);
    send(req.client, json{{"op", "done"}, {"request", req.number}, {"count", req.count}, {"ok", req.ok}}.dump());
    requests_.erase(r);
  }
}

}  // namespace procpool::supervisor
