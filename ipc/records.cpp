#include "ipc/records.hpp"

namespace procpool::ipc {

std::optional<RecordType> record_type(std::string_view record) {
  if (record.empty()) return std::nullopt;
  return static_cast<RecordType>(static_cast<uint8_t>(record[0]));
}

namespace {
template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
template <typename T>
bool get(std::string_view& in, T* value) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}
bool expect_type(std::string_view& in, RecordType type) {
  uint8_t t = 0;
  return get(in, &t) && t == static_cast<uint8_t>(type);
}
}  // namespace

std::string encode_define_kind(const KindDefinition& def) {
  std::string out;
  put(out, static_cast<uint8_t>(RecordType::DefineKind));
  put(out, def.id);
  put(out, static_cast<uint16_t>(def.name.size()));
  out += def.name;
  out += def.options;
  return out;
}

std::optional<KindDefinition> decode_define_kind(std::string_view in) {
  KindDefinition def;
  uint16_t name_len = 0;
  if (!expect_type(in, RecordType::DefineKind) || !get(in, &def.id) || !get(in, &name_len) ||
      in.size() < name_len)
    return std::nullopt;
  def.name = std::string(in.substr(0, name_len));
  def.options = std::string(in.substr(name_len));
  return def;
}

std::string encode_ready(const std::vector<uint32_t>& concurrency) {
  std::string out;
  put(out, static_cast<uint8_t>(RecordType::Ready));
  put(out, static_cast<uint32_t>(concurrency.size()));
  for (uint32_t c : concurrency) put(out, c);
  return out;
}

std::optional<std::vector<uint32_t>> decode_ready(std::string_view in) {
  uint32_t count = 0;
  if (!expect_type(in, RecordType::Ready) || !get(in, &count) || in.size() != count * 4ull)
    return std::nullopt;
  std::vector<uint32_t> out(count);
  for (auto& c : out) get(in, &c);
  return out;
}

std::string encode_load_plugin(std::string_view path) {
  std::string out;
  put(out, static_cast<uint8_t>(RecordType::LoadPlugin));
  out += path;
  return out;
}

std::optional<std::string_view> decode_load_plugin(std::string_view in) {
  if (!expect_type(in, RecordType::LoadPlugin) || in.empty()) return std::nullopt;
  return in;
}

std::string encode_initialize(uint8_t kind, std::string_view input) {
  std::string out;
  put(out, static_cast<uint8_t>(RecordType::Initialize));
  put(out, kind);
  out += input;
  return out;
}

std::string encode_fatal(std::string_view message) {
  std::string out;
  put(out, static_cast<uint8_t>(RecordType::Fatal));
  out += message;
  return out;
}

std::optional<std::string_view> decode_fatal(std::string_view in) {
  if (!expect_type(in, RecordType::Fatal)) return std::nullopt;
  return in;
}

std::optional<TaskView> decode_task(std::string_view in) {
  TaskView view{};
  if (!get(in, &view.header) || view.header.type != static_cast<uint8_t>(RecordType::Task))
    return std::nullopt;
  view.input = in;
  return view;
}

std::optional<ResultView> decode_result(std::string_view in) {
  ResultView view{};
  if (!get(in, &view.header) || view.header.type != static_cast<uint8_t>(RecordType::Result))
    return std::nullopt;
  const auto status = view.header.status;
  const bool command_crashed = status == static_cast<uint8_t>(Status::crashed) && view.header.signal > 0;
  if (status != static_cast<uint8_t>(Status::ok) && status != static_cast<uint8_t>(Status::error) && !command_crashed)
    return std::nullopt;
  if (view.header.end_ns < view.header.start_ns) return std::nullopt;
  if (view.header.exit_code < -1 || view.header.exit_code > 255 || view.header.signal < 0 || view.header.signal > 64)
    return std::nullopt;
  view.output = in;
  return view;
}

}  // namespace procpool::ipc
