#include "supervisor/redis/intake.hpp"

#include <nlohmann/json.hpp>

namespace procpool::supervisor::redis {

Intake::Intake(HostSettings settings, std::function<void(int, const std::string&)> log)
    : host_(std::move(settings), std::move(log)) {}

void Intake::take(Supervisor& pool, const KindFor& kind_for) {
  using nlohmann::json;
  for (Job& job : host_.take_jobs()) {
    if (stopping_) {
      host_.hand_back({job.entry});
      continue;
    }
    std::string why;
    const int kind = kind_for(job.kind, job.options, &why);
    if (kind < 0) {
      host_.finish(job, json{{"job", job.job}, {"host", host_.settings().consumer}, {"status", "error"},
                             {"cause", why + " on this host"}}
                            .dump());
      continue;
    }
    const uint64_t key = ++next_key_;
    Running& r = jobs_[key];
    r.remaining = job.inputs.size();
    r.results.resize(job.inputs.size());
    for (std::size_t i = 0; i < job.inputs.size(); ++i) {
      const uint64_t id = pool.submit(static_cast<uint8_t>(kind), job.inputs[i]);
      r.tasks.push_back(id);
      routes_.emplace(id, std::make_pair(key, i));
    }
    by_entry_.emplace(job.entry, key);
    r.job = std::move(job);
  }
  // Taken over by another host: what has not started here is not worth running (its
  // result would be dropped).
  for (const std::string& entry : host_.take_lost()) {
    const auto it = by_entry_.find(entry);
    if (it == by_entry_.end()) continue;
    for (uint64_t id : jobs_[it->second].tasks) pool.cancel(id, "cancelled: another host took over its job");
  }
}

bool Intake::on_result(const Completion& c, const std::string& line, bool stopping) {
  const auto route = routes_.find(c.id);
  if (route == routes_.end()) return false;
  const auto [key, index] = route->second;
  routes_.erase(route);
  Running& r = jobs_[key];
  r.results[index] = line;
  if (c.status == ipc::Status::cancelled && stopping) r.interrupted = true;
  if (--r.remaining == 0) complete(key);
  return true;
}

void Intake::complete(uint64_t key) {
  using nlohmann::json;
  Running& r = jobs_[key];
  by_entry_.erase(r.job.entry);
  if (r.interrupted) {
    host_.hand_back({r.job.entry});
  } else {
    json results = json::array();
    for (const std::string& line : r.results) results.push_back(json::parse(line, nullptr, false));
    host_.finish(r.job, json{{"job", r.job.job}, {"host", host_.settings().consumer}, {"results", results}}
                            .dump(-1, ' ', false, json::error_handler_t::replace));
  }
  jobs_.erase(key);
}

void Intake::stopping() {
  if (stopping_) return;
  stopping_ = true;
  host_.hand_back({});  // stop claiming
}

}  // namespace procpool::supervisor::redis
