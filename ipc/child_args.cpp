#include "ipc/child_args.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <string_view>

namespace procpool::ipc {
namespace {

constexpr int kFields = 6;

// The whole word is a decimal number that fits T (no sign for unsigned, no spaces).
template <typename T>
bool parse_whole(std::string_view word, T& out) {
  if (word.empty()) return false;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out);
  return ec == std::errc() && end == word.data() + word.size();
}

}  // namespace

std::vector<std::string> encode_child_args(const ChildArgs& args) {
  return {kChildModeArg,
          args.segment,
          std::to_string(args.slot),
          std::to_string(args.generation),
          std::to_string(args.wake_fd),
          std::to_string(args.supervisor),
          std::to_string(args.task_wake_fd)};
}

bool is_child_argv(int argc, const char* const* argv) {
  return argc >= 2 && std::strcmp(argv[1], kChildModeArg) == 0;
}

std::optional<ChildArgs> decode_child_args(int argc, const char* const* argv) {
  if (argc != 2 + kFields || !is_child_argv(argc, argv)) return std::nullopt;
  ChildArgs a;
  a.segment = argv[2];
  const bool ok = !a.segment.empty() && parse_whole(argv[3], a.slot) && parse_whole(argv[4], a.generation) &&
                  parse_whole(argv[5], a.wake_fd) && parse_whole(argv[6], a.supervisor) &&
                  parse_whole(argv[7], a.task_wake_fd);
  if (!ok || a.wake_fd < 0 || a.task_wake_fd < 0 || a.supervisor <= 0 || a.generation == 0) return std::nullopt;
  return a;
}

}  // namespace procpool::ipc
