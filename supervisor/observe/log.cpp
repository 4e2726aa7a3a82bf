#include "supervisor/observe/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <stdexcept>

namespace procpool::supervisor {

namespace {

// True when stderr is the journal's stream (systemd sets JOURNAL_STREAM=DEV:INODE).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st{};
  if (stream == nullptr || fstat(STDERR_FILENO, &st) != 0) return false;
  char* end = nullptr;
  const unsigned long long dev = std::strtoull(stream, &end, 10);
  if (end == stream || *end != ':') return false;
  const char* ino_text = end + 1;
  const unsigned long long ino = std::strtoull(ino_text, &end, 10);
  return end != ino_text && *end == '\0' && dev == st.st_dev && ino == st.st_ino;
}

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical: return 2;
    case spdlog::level::err: return 3;
    case spdlog::level::warn: return 4;
    case spdlog::level::info: return 6;
    default: return 7;
  }
}

// One line per message, written with one write() so lines from a crash-looping service
// never interleave. The message is escaped by nlohmann::json in JSON mode.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  StderrSink(bool json, bool journal) : json_(json), journal_(journal) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (json_) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
      nlohmann::json j{{"time", static_cast<double>(us) / 1e6},
                       {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                             spdlog::level::to_string_view(msg.level).size())},
                       {"msg", text}};
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else if (journal_) {
      line = "<" + std::to_string(syslog_priority(msg.level)) + ">" + text;
    } else {
      const auto name = spdlog::level::to_string_view(msg.level);
      line = "procpool [" + std::string(name.data(), name.size()) + "] " + text;
    }
    line += '\n';
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  }
  void flush_() override {}

 private:
  bool json_, journal_;
};

}  // namespace

void setup_logging(const std::string& format, const std::string& level) {
  if (format != "plain" && format != "json")
    throw std::invalid_argument("log format must be one of " + std::string(kLogFormats) + ", not '" + format + "'");
  const spdlog::level::level_enum lvl = level == "warning" ? spdlog::level::warn : spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know: only "off" itself may mean off.
  if (lvl == spdlog::level::off && level != "off")
    throw std::invalid_argument("log level must be one of " + std::string(kLogLevels) + ", not '" + level + "'");
  auto logger = std::make_shared<spdlog::logger>("procpool",
                                                 std::make_shared<StderrSink>(format == "json", stderr_is_journal()));
  logger->set_level(lvl);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace procpool::supervisor
