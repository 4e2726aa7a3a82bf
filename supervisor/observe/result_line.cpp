#include "supervisor/observe/result_line.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ipc/status.hpp"

namespace procpool::supervisor {

using nlohmann::json;

namespace {

double ms(uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; }  // µs precision

bool ascii(std::string_view text) {
  for (const char ch : text)
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  return true;
}

template <typename Integer>
void put_integer(std::string& out, Integer v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(std::begin(buf), std::end(buf), v);
  out.append(buf, end);
}

// A number of milliseconds as nlohmann::json writes a double: the shortest digits that
// read back the same, in fixed notation (ms() rounds to 0.001, so never below 1e-4,
// where it would write an exponent), with ".0" when there is no fraction.
void put_ms(std::string& out, uint64_t ns) {
  char buf[64];
  const auto [end, ec] = std::to_chars(std::begin(buf), std::end(buf), ms(ns), std::chars_format::fixed);
  out.append(buf, end);
  if (std::memchr(buf, '.', static_cast<std::size_t>(end - buf)) == nullptr) out += ".0";
}

// An ASCII string as JSON: the escapes nlohmann::json writes (\u00XX in lower case for
// other control characters; DEL as it is).
void put_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run of bytes that need no escape
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[ch >> 4];
        out += kHex[ch & 15];
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
}

void key(std::string& out, const char* name) {
  out += out.size() == 1 ? "\"" : ",\"";
  out += name;
  out += "\":";
}

}  // namespace

std::string result_json_line(const Completion& c, const std::string& kind_name, uint64_t run_start_ns) {
  // A worker's JSON output is parsed (it is untrusted), and text that is not ASCII may be
  // invalid UTF-8, which the reference replaces as it writes: both go its way.
  const bool ok = c.status == ipc::Status::ok;
  if ((ok && c.output_is_json) || !ascii(c.input) || !ascii(c.output) || !ascii(kind_name))
    return result_json_line_reference(c, kind_name, run_start_ns);
  const bool ran = c.start_ns != 0;
  std::string out;
  out.reserve(200 + c.input.size() + c.output.size());
  out += '{';
  key(out, "attempts");
  put_integer(out, c.attempts);
  if (ran && c.cpu_measured) {
    key(out, "cpu_ms");
    put_ms(out, c.cpu_ns);
  }
  if (ran) {
    key(out, "end_ms");
    put_ms(out, c.end_ns > run_start_ns ? c.end_ns - run_start_ns : 0);
  }
  if (!ok) {
    key(out, "error");
    put_string(out, c.output);
  }
  if (c.exit_code >= 0) {
    key(out, "exit_code");
    put_integer(out, c.exit_code);
  }
  key(out, "id");
  put_integer(out, c.id);
  key(out, "input");
  put_string(out, c.input);
  key(out, "kind");
  put_string(out, kind_name);
  if (ran && c.max_rss_kb != 0) {
    key(out, "max_rss_kb");
    put_integer(out, c.max_rss_kb);
  }
  if (ok) {
    key(out, "output");
    put_string(out, c.output);
  }
  if (c.worker >= 0) {
    key(out, "pid");
    put_integer(out, c.pid);
  }
  if (ran) {
    key(out, "run_ms");
    put_ms(out, c.end_ns - c.start_ns);
  }
  if (c.signal != 0) {
    key(out, "signal");
    const char* abbrev = sigabbrev_np(c.signal);
    put_string(out, abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(c.signal));
  }
  if (ran) {
    key(out, "start_ms");
    put_ms(out, c.start_ns > run_start_ns ? c.start_ns - run_start_ns : 0);
  }
  key(out, "status");
  put_string(out, ipc::status_name(c.status));
  if (ran) {
    key(out, "wait_ms");
    put_ms(out, c.start_ns > c.queued_ns ? c.start_ns - c.queued_ns : 0);
  }
  if (c.worker >= 0) {
    key(out, "worker");
    put_integer(out, c.worker);
  }
  out += '}';
  return out;
}

std::string result_json_line_reference(const Completion& c, const std::string& kind_name, uint64_t run_start_ns) {
  json line;
  line["id"] = c.id;
  line["kind"] = kind_name;
  line["input"] = std::string(c.input);
  line["status"] = ipc::status_name(c.status);
  if (c.status == ipc::Status::ok) {
    json output = c.output_is_json ? json::parse(c.output, nullptr, false) : json(std::string(c.output));
    if (output.is_discarded()) output = std::string(c.output);  // a child's broken JSON stays text
    line["output"] = std::move(output);
  } else {
    line["error"] = std::string(c.output);
  }
  if (c.signal != 0) {
    const char* abbrev = sigabbrev_np(c.signal);
    line["signal"] = abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(c.signal);
  }
  if (c.exit_code >= 0) line["exit_code"] = c.exit_code;
  line["attempts"] = c.attempts;
  if (c.worker >= 0) {  // absent where no worker had it (cancelled in the queue)
    line["worker"] = c.worker;
    line["pid"] = c.pid;
  }
  if (c.start_ns != 0) {
    line["wait_ms"] = ms(c.start_ns > c.queued_ns ? c.start_ns - c.queued_ns : 0);
    line["run_ms"] = ms(c.end_ns - c.start_ns);
    if (c.cpu_measured) line["cpu_ms"] = ms(c.cpu_ns);
    if (c.max_rss_kb != 0) line["max_rss_kb"] = c.max_rss_kb;  // unknown for a task that killed its worker
    line["start_ms"] = ms(c.start_ns > run_start_ns ? c.start_ns - run_start_ns : 0);
    line["end_ms"] = ms(c.end_ns > run_start_ns ? c.end_ns - run_start_ns : 0);
  }
  // Inputs and outputs are arbitrary bytes: invalid UTF-8 is replaced, never fatal.
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace procpool::supervisor
