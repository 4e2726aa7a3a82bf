// Every decoder of bytes that come from another process: a record or a chunk is rejected
// or accepted, never read out of bounds; what it accepts is what the encoder writes (each
// record decodes, encodes back to the same bytes), every view lies inside the record,
// and a decoded result keeps the promises the supervisor relies on. A broken invariant
// traps (libFuzzer reports a crash; a non-zero return would be ignored).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "ipc/chunk.hpp"
#include "ipc/records.hpp"

using namespace procpool::ipc;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// A view handed out by a decoder points into the record it was decoded from.
void check_inside(std::string_view view, std::string_view record) {
  check(view.data() >= record.data() && view.data() + view.size() <= record.data() + record.size());
}

void check_result(std::string_view in) {
  const auto r = decode_result(in);
  if (!r) return;
  check_inside(r->output, in);
  check(r->output.size() == in.size() - sizeof(ResultHeader));
  // ok or error; crashed only with the signal that killed the task's command (exec).
  check(r->header.status == static_cast<uint8_t>(Status::ok) || r->header.status == static_cast<uint8_t>(Status::error) ||
        (r->header.status == static_cast<uint8_t>(Status::crashed) && r->header.signal > 0));
  check(r->header.end_ns >= r->header.start_ns);
  check(r->header.exit_code >= -1 && r->header.exit_code <= 255 && r->header.signal >= 0 && r->header.signal <= 64);
}

void check_task(std::string_view in) {
  const auto t = decode_task(in);
  if (!t) return;
  check_inside(t->input, in);
  check(std::memcmp(&t->header, in.data(), sizeof(TaskHeader)) == 0);
}

void check_round_trips(std::string_view in) {
  if (const auto def = decode_define_kind(in)) {
    check(encode_define_kind(*def) == in);
    const auto again = decode_define_kind(encode_define_kind(*def));
    check(again && again->id == def->id && again->name == def->name && again->options == def->options);
  }
  if (const auto ready = decode_ready(in)) check(encode_ready(*ready) == in);
  if (const auto path = decode_load_plugin(in)) {
    check_inside(*path, in);
    check(!path->empty() && encode_load_plugin(*path) == in);
  }
  if (const auto message = decode_fatal(in)) {
    check_inside(*message, in);
    check(encode_fatal(*message) == in);
  }
}

// A chunk's pieces are the chunk, cut: they fit inside it and re-encode to a prefix of
// it (all of it when the decoder accepted the whole).
void check_chunks(std::string_view in) {
  std::string inputs;
  const bool inputs_ok = for_each_chunk_input(in, [&](std::string_view s) {
    check_inside(s, in);
    append_chunk_input(inputs, s);
  });
  check(in.substr(0, inputs.size()) == inputs && (!inputs_ok || inputs.size() == in.size()));
  std::string outputs;
  const bool outputs_ok = for_each_chunk_output(in, [&](bool ok, uint8_t flags, std::string_view s) {
    check_inside(s, in);
    append_chunk_output(outputs, ok, flags, s);
  });
  // ok is any non-zero byte on the way in, 1 on the way out: compare lengths and bodies.
  check(outputs.size() <= in.size() && (!outputs_ok || outputs.size() == in.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (const auto type = record_type(in)) check(static_cast<uint8_t>(*type) == data[0]);
  else check(size == 0);
  check_result(in);
  check_task(in);
  check_round_trips(in);
  check_chunks(in);
  return 0;
}
