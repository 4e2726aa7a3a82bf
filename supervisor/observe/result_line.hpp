#pragma once
// A result as the JSON line `run --results` and `serve` write: the keys in order
// (attempts, cpu_ms, end_ms, error, exit_code, id, input, kind, max_rss_kb, output, pid,
// run_ms, signal, start_ms, status, wait_ms, worker), those that do not apply left out.
#include <cstdint>
#include <string>

#include "supervisor/engine/supervisor.hpp"

namespace procpool::supervisor {

// One result as a JSON line (no newline). kind_name names c.kind; run_start_ns is the
// run's origin for start_ms/end_ms, so that a timeline can be drawn from the file.
// Inputs and outputs are arbitrary bytes: invalid UTF-8 is replaced (U+FFFD), never fatal.
std::string result_json_line(const Completion& c, const std::string& kind_name, uint64_t run_start_ns);

// The same line built as a JSON document (nlohmann::json): the reference the direct
// writer above must match byte for byte, and what it falls back to for text that is not
// ASCII (whose replacement of invalid UTF-8 it does not repeat).
std::string result_json_line_reference(const Completion& c, const std::string& kind_name, uint64_t run_start_ns);

}  // namespace procpool::supervisor
