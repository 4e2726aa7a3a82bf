#pragma once
// Chunks: many inputs in one task record, and their many outputs in one result record,
// so that per-task costs are paid once per chunk (as Pool.map's chunksize does).
//   chunk input:  repeated [u32 length][bytes]
//   chunk output: repeated [u8 ok][u8 flags][u32 length][bytes]   (one per input, in order)
// Decoders check every length against what is left and stop (returning false) at the
// first inconsistency: the bytes come from another process.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace procpool::ipc {

inline void append_chunk_input(std::string& chunk, std::string_view input) {
  const auto len = static_cast<uint32_t>(input.size());
  chunk.append(reinterpret_cast<const char*>(&len), sizeof len);
  chunk.append(input);
}

inline void append_chunk_output(std::string& out, bool ok, uint8_t flags, std::string_view bytes) {
  const uint8_t head[2] = {static_cast<uint8_t>(ok ? 1 : 0), flags};
  const auto len = static_cast<uint32_t>(bytes.size());
  out.append(reinterpret_cast<const char*>(head), sizeof head);
  out.append(reinterpret_cast<const char*>(&len), sizeof len);
  out.append(bytes);
}

// Calls fn(input) for each input; false if the chunk is malformed.
template <typename Fn>
bool for_each_chunk_input(std::string_view chunk, Fn&& fn) {
  while (!chunk.empty()) {
    uint32_t len = 0;
    if (chunk.size() < sizeof len) return false;
    std::memcpy(&len, chunk.data(), sizeof len);
    chunk.remove_prefix(sizeof len);
    if (len > chunk.size()) return false;
    fn(chunk.substr(0, len));
    chunk.remove_prefix(len);
  }
  return true;
}

// Calls fn(ok, flags, bytes) for each output; false if malformed.
template <typename Fn>
bool for_each_chunk_output(std::string_view out, Fn&& fn) {
  while (!out.empty()) {
    uint32_t len = 0;
    if (out.size() < 2 + sizeof len) return false;
    const bool ok = out[0] != 0;
    const auto flags = static_cast<uint8_t>(out[1]);
    std::memcpy(&len, out.data() + 2, sizeof len);
    out.remove_prefix(2 + sizeof len);
    if (len > out.size()) return false;
    fn(ok, flags, out.substr(0, len));
    out.remove_prefix(len);
  }
  return true;
}

}  // namespace procpool::ipc
