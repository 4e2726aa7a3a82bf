// `procpool status`: this user's running pools, read from their segments (read-only).
#include "supervisor/cli/command.hpp"
#include "supervisor/observe/status.hpp"

namespace procpool::cli {
namespace {

class StatusCommand final : public Command {
 public:
  explicit StatusCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("status", "Show this user's running pools: workers, tasks, totals.");
    app_->add_option("--pid", pid_, "Only the pool whose supervisor has this pid")->option_text("PID");
    app_->add_flag("--json", json_, "As JSON");
    app_->add_flag("--prometheus", prometheus_, "As Prometheus text metrics");
    app_->add_flag("--watch", watch_, "Redraw every second, as top does");
    document({"Reads each pool's shared segment, read-only; a pool of another user is not seen. --json is "
              "always a list, [] when no pool runs.",
              {}, {}, "0 pools were shown (or --json), 1 no pool runs (or none with --pid), 2 usage error."});
  }

  int execute(const Invocation&) override {
    const auto format = json_         ? supervisor::StatusFormat::Json
                        : prometheus_ ? supervisor::StatusFormat::Prometheus
                                      : supervisor::StatusFormat::Text;
    return supervisor::show_status(pid_, format, watch_);
  }

 private:
  pid_t pid_ = 0;
  bool json_ = false, prometheus_ = false, watch_ = false;
};

}  // namespace

std::unique_ptr<Command> add_status(CLI::App& parent) { return std::make_unique<StatusCommand>(parent); }

}  // namespace procpool::cli
