#pragma once
// A small synchronous Redis client over hiredis 0.14 (RESP2): one connection, commands
// as argument vectors (binary safe, no formatting), replies copied into plain values.
// Used from one thread only. A lost connection throws RedisError; the caller reconnects.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;

namespace procpool::supervisor::redis {

struct RedisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Reply {
  enum class Type { Nil, String, Status, Integer, Array, Error } type = Type::Nil;
  std::string str;  // String, Status, Error
  long long integer = 0;
  std::vector<Reply> elements;

  bool nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
};

// "HOST:PORT" (default port 6379); throws std::invalid_argument.
struct Endpoint {
  std::string host;
  int port = 6379;
};
Endpoint parse_endpoint(const std::string& text);

class Client {
 public:
  // Connects within connect_timeout; each command may take at most io_timeout (a
  // blocking command's own BLOCK time must stay below it). Throws RedisError.
  Client(const Endpoint& at, std::chrono::milliseconds connect_timeout, std::chrono::milliseconds io_timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One command. A Redis error reply is returned as Type::Error; a broken connection
  // throws RedisError (and the client is unusable).
  Reply command(const std::vector<std::string>& argv);
  // Many commands in one round trip; replies in order.
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  redisContext* ctx_ = nullptr;
};

}  // namespace procpool::supervisor::redis
