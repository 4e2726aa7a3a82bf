// Every decoder of bytes that come from another process: a record or a chunk must be
// rejected or accepted, never read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipc/chunk.hpp"
#include "ipc/records.hpp"

using namespace procpool::ipc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)record_type(in);
  if (auto r = decode_result(in)) (void)r->output.size();
  if (auto t = decode_task(in)) (void)t->input.size();
  (void)decode_define_kind(in);
  (void)decode_ready(in);
  (void)decode_fatal(in);
  (void)decode_load_plugin(in);
  std::size_t n = 0;
  for_each_chunk_input(in, [&](std::string_view s) { n += s.size(); });
  for_each_chunk_output(in, [&](bool, uint8_t, std::string_view s) { n += s.size(); });
  return n > size * 2 ? 1 : 0;  // a chunk's pieces are never longer than the chunk
}
