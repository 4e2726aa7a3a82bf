#pragma once
// systemd's notification protocol (sd_notify(3)): one datagram of "KEY=value" lines to
// the socket named by $NOTIFY_SOCKET. Written here rather than linked from libsystemd,
// whose six dependent libraries every worker process would load at start (each library
// costs start-up here, see DESIGN.md); the protocol is a few lines and stable.
#include <cstdint>
#include <string>

namespace procpool::supervisor {

// Sends the lines; false if not under systemd ($NOTIFY_SOCKET unset) or it failed.
bool notify_systemd(const std::string& lines);

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC, for this process
// by $WATCHDOG_PID), in nanoseconds; 0 when there is none.
uint64_t systemd_watchdog_ns();

}  // namespace procpool::supervisor
