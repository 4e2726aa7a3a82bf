#pragma once
// The queue's contract between producers (submit --redis, run --redis) and hosts (serve
// --redis), stated once (docs/SCALE_OUT.md): the keys of a queue and the fields of an
// entry. A host decodes what any client of the Redis server may have written, so
// decode_entry() checks every field before a task is made of it.
#include <string>
#include <vector>

#include "ipc/kind_options.hpp"

namespace procpool::supervisor::redis {

// The keys share the hash tag {QUEUE}: one Redis Cluster slot holds a whole queue.
std::string jobs_key(const std::string& queue);  // the stream of entries
std::string dead_key(const std::string& queue);  // entries given up on, with the cause
std::string done_key(const std::string& queue, const std::string& job);  // "answered" mark
std::string reply_key(const std::string& queue, const std::string& client);  // a producer's results

// One entry: a chunk of a producer's inputs for one kind, answered once on `reply`.
struct Entry {
  std::string job;  // the producer's id of the chunk
  std::string kind;
  KindOptions options;  // optional field "options": a JSON object
  std::string reply;
  std::vector<std::string> inputs;  // field "inputs": a JSON array of strings, not empty
  unsigned max_attempts = 0;  // optional: hosts it may outlive, 1 to 100 (0: the host's default)
};

// XADD JOBS * job J kind K inputs [...] reply R [options {...}] [max_attempts N]
std::vector<std::string> xadd_command(const std::string& queue, const Entry& entry);
// An entry from its fields (name, value, name, value...). False with *why when it is not
// one; *out then keeps what could be read (job, kind, reply), so that the producer still
// gets its one error result.
bool decode_entry(const std::vector<std::string>& fields, Entry* out, std::string* why);

}  // namespace procpool::supervisor::redis
