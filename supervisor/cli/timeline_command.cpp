// `procpool timeline RESULTS -o FILE`: an earlier run drawn from its --results file.
#include <string>

#include "supervisor/batch/run.hpp"
#include "supervisor/cli/command.hpp"

namespace procpool::cli {
namespace {

class TimelineCommand final : public Command {
 public:
  explicit TimelineCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("timeline", "Draw an earlier run from its --results file as SVG.");
    app_->add_option("results", results_, "The run's results (JSON lines)")->required()->option_text("RESULTS");
    app_->add_option("-o,--output", svg_, "The SVG file to write (- for stdout)")->required()->option_text("FILE");
    document({"A lane per worker, a bar per task coloured by its status, worker deaths marked; many tasks become "
              "utilisation bands, so the file stays small.",
              {}, {}, "0 drawn, 1 the results could not be read or held none, 2 usage error."});
  }

  int execute(const Invocation&) override { return supervisor::draw_timeline(results_, svg_); }

 private:
  std::string results_, svg_;
};

}  // namespace

std::unique_ptr<Command> add_timeline(CLI::App& parent) { return std::make_unique<TimelineCommand>(parent); }

}  // namespace procpool::cli
