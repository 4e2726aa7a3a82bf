#pragma once
// The service's log (procpool serve): spdlog to stderr, one line per event, as plain text
// or JSON lines. Under systemd, stderr goes to the journal, which adds the time; plain
// lines then carry a <N> syslog priority prefix so `journalctl -p warning` works.
#include <string>

namespace procpool::supervisor {

inline constexpr const char* kLogFormats = "plain, json";
inline constexpr const char* kLogLevels = "trace, debug, info, warning, error, off";

// Sets the default spdlog logger. format: "plain" | "json"; level: one of kLogLevels.
// Throws std::invalid_argument naming the accepted values.
void setup_logging(const std::string& format, const std::string& level);

}  // namespace procpool::supervisor
