#pragma once
// Sizes and durations as users write them (flags, config files, kind options).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procpool {

// "1048576", "512K", "300M", "2G", "1.5G" (powers of 1024; a trailing "B" or "iB" is
// allowed). nullopt if malformed, zero or over 2^62.
std::optional<uint64_t> parse_bytes(std::string_view text);

// bytes as a person reads them: "900 KiB", "512 MiB", "3.1 GiB".
std::string bytes_text(uint64_t bytes);

// A task timeout: "30" or "2.5" seconds, or "300%" of the kind's median run time.
struct TimeoutSpec {
  uint64_t ns = 0;
  unsigned percent = 0;
};
std::optional<TimeoutSpec> parse_timeout(std::string_view text);

}  // namespace procpool
