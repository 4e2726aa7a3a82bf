#include "supervisor/redis/host.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "ipc/clock.hpp"
#include "ipc/eventfd.hpp"
#include "ipc/kind_schema.hpp"
#include "supervisor/redis/functions.hpp"

namespace procpool::supervisor::redis {

namespace {

constexpr const char* kGroup = "pp";

uint64_t now_ms() { return ipc::monotonic_ns() / 1'000'000; }


}  // namespace


Host::Host(HostSettings settings, std::function<void(int, const std::string&)> log)
    : settings_(std::move(settings)), log_(std::move(log)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { run(); });
}

Host::~Host() {
  stop_ = true;
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

std::vector<Job> Host::take_jobs() {
  ipc::eventfd_drain(wake_fd_);
  std::lock_guard lock(mutex_);
  std::vector<Job> out(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
  inbox_.clear();
  return out;
}

std::vector<std::string> Host::take_lost() {
  std::lock_guard lock(mutex_);
  return std::exchange(lost_, {});
}

void Host::finish(const Job& job, std::string result) {
  {
    std::lock_guard lock(mutex_);
    outbox_.push_back({job, std::move(result), {}});
  }
  work_.notify_all();
}

void Host::hand_back(std::vector<std::string> entries) {
  {
    std::lock_guard lock(mutex_);
    claiming_ = false;
    release_.insert(release_.end(), entries.begin(), entries.end());
  }
  work_.notify_all();
}

bool Host::idle() const {
  std::lock_guard lock(mutex_);
  return outbox_.empty() && release_.empty() && held_count_ == 0;
}

void Host::post(std::vector<Job> jobs, std::vector<std::string> lost) {
  if (jobs.empty() && lost.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (Job& j : jobs) inbox_.push_back(std::move(j));
    lost_.insert(lost_.end(), lost.begin(), lost.end());
  }
  ipc::eventfd_ring(wake_fd_);
}

// The Redis thread: (re)connect with backoff, then cycle until stopped.
void Host::run() {
  uint64_t backoff_ms = 100;
  while (!stop_) {
    try {
      Client redis(parse_endpoint(settings_.address), std::chrono::milliseconds(2000),
                   std::chrono::milliseconds(5000));
      const Reply loaded = redis.command({"FUNCTION", "LOAD", "REPLACE", kFunctions});
      if (loaded.is_error()) throw RedisError("cannot load procpool's Redis functions: " + loaded.str);
      const Reply group = redis.command({"XGROUP", "CREATE", jobs_key(settings_.queue), kGroup, "0", "MKSTREAM"});
      if (group.is_error() && group.str.rfind("BUSYGROUP", 0) != 0) throw RedisError("XGROUP CREATE: " + group.str);
      log_(0, "connected to Redis at " + settings_.address + ", queue " + settings_.queue + " as " + settings_.consumer);
      own_pending_first_ = true;
      pending_cursor_ = "0";
      backoff_ms = 100;
      while (!stop_) cycle(redis);
    } catch (const std::exception& e) {
      if (stop_) break;
      log_(1, std::string("Redis: ") + e.what() + "; retrying in " + std::to_string(backoff_ms) + " ms");
      std::unique_lock lock(mutex_);
      work_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return stop_.load(); });
      backoff_ms = std::min<uint64_t>(backoff_ms * 2, 5000);
    }
  }
}

void Host::cycle(Client& redis) {
  send_finishes(redis);
  const uint64_t now = now_ms();
  if (now - last_renew_ms_ >= settings_.lease_ms / 3) {
    last_renew_ms_ = now;
    renew(redis);
  }
  bool claiming;
  {
    std::lock_guard lock(mutex_);
    claiming = claiming_;
  }
  // Our own pending entries are read back first: a read of history counts a delivery,
  // so it must not come after a take-over of the same entry. A take-over due while we are
  // full waits for the first room, ahead of new entries: a lost host's jobs are older
  // than anything new, and must not wait behind the rest of the stream (seen: 4 s where
  // the lease was 1 s).
  if (claiming && !own_pending_first_ && held_.size() < settings_.max_entries &&
      now - last_takeover_ms_ >= settings_.lease_ms / 2) {
    last_takeover_ms_ = now;
    take_over(redis);
  }
  if (claiming && held_.size() < settings_.max_entries) {
    read_new(redis);  // blocks up to 20 ms when there is nothing to send
  } else {
    std::unique_lock lock(mutex_);
    work_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_ || !outbox_.empty() || !release_.empty(); });
  }
}

void Host::send_finishes(Client& redis) {
  std::deque<Finish> batch;
  std::vector<std::string> release;
  {
    std::lock_guard lock(mutex_);
    batch.swap(outbox_);
    release.swap(release_);
  }
  if (!release.empty()) {
    std::vector<std::string> argv{"FCALL", "pp_release", "1", jobs_key(settings_.queue), kGroup, settings_.consumer};
    argv.insert(argv.end(), release.begin(), release.end());
    const Reply r = redis.command(argv);
    if (r.is_error()) log_(2, "handing back entries failed: " + r.str);
    else log_(0, "handed back " + std::to_string(r.integer) + " entries that had not started");
    for (const std::string& id : release) held_.erase(id);
  }
  if (batch.empty()) {
    held_count_ = held_.size();
    return;
  }
  std::vector<std::vector<std::string>> commands;
  for (const Finish& f : batch) {
    std::vector<std::string> argv{"FCALL", "pp_finish", f.cause.empty() ? "3" : "4", jobs_key(settings_.queue),
                                  f.job.reply, done_key(settings_.queue, f.job.job.empty() ? f.job.entry : f.job.job)};
    if (!f.cause.empty()) argv.push_back(dead_key(settings_.queue));
    argv.insert(argv.end(), {kGroup, settings_.consumer, f.job.entry, f.result, std::to_string(settings_.done_ttl_s)});
    if (!f.cause.empty()) argv.push_back(f.cause);
    commands.push_back(std::move(argv));
  }
  try {
    const std::vector<Reply> replies = redis.pipeline(commands);
    for (std::size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].is_error()) log_(2, "finishing entry " + batch[i].job.entry + ": " + replies[i].str);
      else if (replies[i].integer == 0)  // the lease was lost (frozen, cut off): another host answers it
        log_(1, "dropped the late result of entry " + batch[i].job.entry + " (job " + batch[i].job.job +
                    "): it is no longer ours, or was answered already");
      held_.erase(batch[i].job.entry);
    }
  } catch (...) {
    // Not sent: keep them for the next connection (finishing twice is harmless: the
    // ownership check and the done key make the second a no-op).
    std::lock_guard lock(mutex_);
    outbox_.insert(outbox_.begin(), batch.begin(), batch.end());
    throw;
  }
  held_count_ = held_.size();
}

bool Host::parse_entry(const Reply& entry, Job* job, std::string* why) const {
  job->entry = entry.elements.at(0).str;
  std::vector<std::string> fields;
  fields.reserve(entry.elements.at(1).elements.size());
  for (const Reply& f : entry.elements.at(1).elements) fields.push_back(f.str);
  return decode_entry(fields, job, why);
}

// XREADGROUP: after a (re)start first the entries this consumer already holds (from its
// previous life), then new ones.
void Host::read_new(Client& redis) {
  bool quiet;
  {
    std::lock_guard lock(mutex_);
    quiet = outbox_.empty() && release_.empty();
  }
  const std::size_t room = settings_.max_entries - held_.size();
  std::vector<std::string> argv{"XREADGROUP", "GROUP", kGroup, settings_.consumer, "COUNT", std::to_string(room)};
  if (!own_pending_first_ && quiet) argv.insert(argv.end(), {"BLOCK", "20"});
  argv.insert(argv.end(), {"STREAMS", jobs_key(settings_.queue), own_pending_first_ ? pending_cursor_ : ">"});
  const Reply r = redis.command(argv);
  if (r.is_error()) throw RedisError("XREADGROUP: " + r.str);
  std::vector<Job> jobs;
  std::size_t seen = 0;
  if (r.type == Reply::Type::Array && !r.elements.empty()) {
    for (const Reply& entry : r.elements[0].elements.at(1).elements) {
      ++seen;
      if (entry.type != Reply::Type::Array || entry.elements.empty()) continue;
      if (own_pending_first_) pending_cursor_ = entry.elements[0].str;  // the next read starts after it
      if (entry.elements.size() < 2 || entry.elements[1].nil()) continue;  // deleted meanwhile
      // Reading our own pending entries again also returns those already in hand.
      if (!held_.insert(entry.elements[0].str).second) continue;
      Job job;
      std::string why;
      if (parse_entry(entry, &job, &why)) {
        jobs.push_back(std::move(job));
      } else {
        log_(1, "entry " + job.entry + " is malformed: " + why);
        const nlohmann::json result{{"job", job.job.empty() ? nlohmann::json() : nlohmann::json(job.job)},
                                    {"host", settings_.consumer}, {"status", "error"}, {"cause", why}};
        std::lock_guard lock(mutex_);
        outbox_.push_back({job, result.dump(), {}});
      }
    }
  }
  if (own_pending_first_ && seen == 0) own_pending_first_ = false;  // all of them read
  held_count_ = held_.size();
  post(std::move(jobs), {});
}

// Entries idle past the lease belong to a host that is gone (or frozen): take them.
// XAUTOCLAIM without JUSTID counts a delivery, which is what counts lost hosts.
void Host::take_over(Client& redis) {
  if (held_.size() >= settings_.max_entries) return;
  const std::string key = jobs_key(settings_.queue);
  const Reply r = redis.command({"XAUTOCLAIM", key, kGroup, settings_.consumer, std::to_string(settings_.lease_ms),
                                 "0", "COUNT", std::to_string(settings_.max_entries - held_.size())});
  if (r.is_error()) throw RedisError("XAUTOCLAIM: " + r.str);
  if (r.type != Reply::Type::Array || r.elements.size() < 2) return;
  // The delivery count of every entry taken, in one round trip.
  std::vector<const Reply*> taken;
  std::vector<std::vector<std::string>> queries;
  for (const Reply& entry : r.elements[1].elements) {
    if (entry.type != Reply::Type::Array || entry.elements.size() < 2 || entry.elements[1].nil()) continue;
    taken.push_back(&entry);
    const std::string& id = entry.elements[0].str;
    queries.push_back({"XPENDING", key, kGroup, id, id, "1"});
  }
  const std::vector<Reply> pending = queries.empty() ? std::vector<Reply>() : redis.pipeline(queries);
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    const Reply& entry = *taken[i];
    Job job;
    std::string why;
    held_.insert(entry.elements[0].str);
    const bool ok = parse_entry(entry, &job, &why);
    long long deliveries = 0;
    if (pending[i].type == Reply::Type::Array && !pending[i].elements.empty() &&
        pending[i].elements[0].elements.size() >= 4)
      deliveries = pending[i].elements[0].elements[3].integer;
    const unsigned limit = ok && job.max_attempts != 0 ? job.max_attempts : settings_.max_attempts;
    if (ok && deliveries <= static_cast<long long>(limit)) {
      log_(1, "took over entry " + job.entry + " (job " + job.job + ") from a lost host; delivery " +
                  std::to_string(deliveries));
      jobs.push_back(std::move(job));
      continue;
    }
    const std::string cause = ok ? "lost " + std::to_string(deliveries - 1) + " hosts while running it (limit " +
                                       std::to_string(limit) + ")"
                                 : why;
    log_(1, "entry " + job.entry + " given up: " + cause);
    const nlohmann::json result{{"job", job.job}, {"host", settings_.consumer}, {"status", ok ? "lost" : "error"},
                                {"cause", cause}};
    std::lock_guard lock(mutex_);
    outbox_.push_back({job, result.dump(), ok ? cause : std::string()});
  }
  held_count_ = held_.size();
  post(std::move(jobs), {});
}

void Host::renew(Client& redis) {
  if (held_.empty()) return;
  std::vector<std::string> argv{"FCALL", "pp_renew", "1", jobs_key(settings_.queue), kGroup, settings_.consumer};
  argv.insert(argv.end(), held_.begin(), held_.end());
  const Reply r = redis.command(argv);
  if (r.is_error()) throw RedisError("renewing the lease: " + r.str);
  std::vector<std::string> lost;
  for (const Reply& id : r.elements) {
    lost.push_back(id.str);
    held_.erase(id.str);
  }
  if (!lost.empty()) log_(1, std::to_string(lost.size()) + " entries were taken over by other hosts (lease lost)");
  held_count_ = held_.size();
  post({}, std::move(lost));
}

}  // namespace procpool::supervisor::redis
