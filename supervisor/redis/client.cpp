#include "supervisor/redis/client.hpp"

#include <hiredis/hiredis.h>

#include <sys/time.h>

namespace procpool::supervisor::redis {

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;  // nil
  }
  return out;
}

}  // namespace

Endpoint parse_endpoint(const std::string& text) {
  Endpoint e;
  const auto colon = text.rfind(':');
  e.host = colon == std::string::npos ? text : text.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string port = text.substr(colon + 1);
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535)
      throw std::invalid_argument("a Redis address is HOST:PORT with a port from 1 to 65535, not '" + text + "'");
    e.port = static_cast<int>(p);
  }
  if (e.host.empty()) throw std::invalid_argument("a Redis address needs a host: '" + text + "'");
  return e;
}

Client::Client(const Endpoint& at, std::chrono::milliseconds connect_timeout, std::chrono::milliseconds io_timeout) {
  ctx_ = redisConnectWithTimeout(at.host.c_str(), at.port, to_timeval(connect_timeout));
  if (ctx_ == nullptr) throw RedisError("cannot connect to Redis at " + at.host + ":" + std::to_string(at.port));
  if (ctx_->err != 0) {
    const std::string why = ctx_->errstr;
    redisFree(ctx_);
    ctx_ = nullptr;
    throw RedisError("cannot connect to Redis at " + at.host + ":" + std::to_string(at.port) + ": " + why);
  }
  redisSetTimeout(ctx_, to_timeval(io_timeout));
  redisEnableKeepAlive(ctx_);
}

Client::~Client() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

Reply Client::command(const std::vector<std::string>& argv) { return pipeline({argv}).front(); }

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) {
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()) != REDIS_OK)
      throw RedisError(std::string("Redis: ") + ctx_->errstr);
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
      throw RedisError(std::string("Redis connection lost: ") + (ctx_->errstr[0] != '\0' ? ctx_->errstr : "no reply"));
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw), &freeReplyObject);
    replies.push_back(convert(reply.get()));
  }
  return replies;
}

}  // namespace procpool::supervisor::redis
