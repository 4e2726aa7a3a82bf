// `procpool run KIND [INPUT...]`: one batch over the inputs, here or fanned out over a
// Redis queue's hosts.
#include <string>
#include <string_view>
#include <vector>

#include "ipc/units.hpp"
#include "supervisor/batch/run.hpp"
#include "supervisor/cli/command.hpp"
#include "supervisor/cli/config_flags.hpp"
#include "supervisor/cli/help_format.hpp"
#include "supervisor/cli/kind_flags.hpp"
#include "supervisor/cli/kinds.hpp"
#include "supervisor/cli/pool_flags.hpp"
#include "supervisor/redis/fan_out.hpp"

namespace procpool::cli {
namespace {

class RunCommand final : public Command {
 public:
  RunCommand(CLI::App& parent, const Invocation& inv) {
    app_ = parent.add_subcommand("run", "Run tasks of one KIND over INPUTs, then print a summary.");
    app_->add_option("--config", config_path_,
                     std::string("Settings from this TOML file; flags given here override it (default: ") +
                         supervisor::kDefaultConfigPath + " if it exists; see 'procpool check-config --example')")
        ->option_text("FILE")
        ->group(section::kPool);
    app_->add_option("kind", request_.kind, "The task kind (listed below)")->required()->option_text("KIND");
    app_->add_option("inputs", request_.inputs,
                     "Inputs, one task each (thumbnail: image files or folders; sleep: milliseconds)")
        ->option_text("INPUT");
    add_pool_flags(app_, pool_);
    app_->add_option("--input-file", request_.input_file, "Read more inputs from FILE, one per line (- for stdin)")
        ->option_text("FILE")
        ->group(section::kInput);
    app_->add_flag("-0,--null", request_.shape.null,
                   "Inputs in --input-file, stdin and ':::: FILE' end with NUL, not newline (find -print0)")
        ->group(section::kInput);
    app_->add_option("--colsep", request_.shape.colsep,
                     "Split each input into values at REGEX: {1} {2} ... in exec's command")
        ->option_text("REGEX")
        ->group(section::kInput);
    app_->add_option("-n,-N,--max-args", request_.shape.max_args,
                     "N inputs per task, {1} .. {N} in exec's command ({} all of them)")
        ->option_text("N")
        ->check(CLI::Range(1u, 100000u))
        ->group(section::kInput);
    app_->add_flag("--link", request_.shape.link,
                   "Take the ':::' sources value by value (shorter ones wrap round), not every combination")
        ->group(section::kInput);
    app_->add_option("--halt", halt_,
                     "Stop the run early, as GNU parallel: never (the default), soon,fail=N (start no more once N "
                     "tasks failed), now,fail=N (kill the running ones too), N% for a share of all tasks, "
                     "success=N or done=N instead of fail=N; the exit status is then the failing command's "
                     "(0 for success=)")
        ->option_text("WHEN,WHAT=N")
        ->group(section::kInput);
    app_->add_option("--delay", delay_s_, "SECONDS between the starts of two tasks, as GNU parallel (default: 0)")
        ->check(CLI::Range(0.0, 86400.0))
        ->option_text("SECONDS")
        ->group(section::kPool);
    app_->add_option("--memfree", memfree_,
                     "Start a task only while SIZE of memory is available (MemAvailable), as GNU parallel")
        ->option_text("SIZE")
        ->group(section::kPool);
    app_->add_option("--load", max_load_, "Start a task only while the 1-minute load average is under N")
        ->check(CLI::Range(0.01, 100000.0))
        ->option_text("N")
        ->group(section::kPool);
    app_->add_flag("--dry-run", request_.dry_run,
                   "Print what each task would do (exec: its command, quoted for a shell) and run nothing")
        ->group(section::kInput);
    app_->add_option("--joblog", request_.joblog_path,
                     "A line per task in GNU parallel's joblog format (Seq, Host, Starttime, JobRuntime, Send, "
                     "Receive, Exitval, Signal, Command) into FILE; +FILE appends")
        ->option_text("FILE")
        ->group(section::kOutput);
    app_->add_flag("--resume-failed", request_.resume_failed,
                   "With --joblog FILE: run what FILE does not hold or holds as failed, append the rest")
        ->group(section::kInput);
    app_->add_flag("--resume", request_.resume,
                   "With --results FILE: skip inputs already ok in FILE, append the rest (restart a killed run); "
                   "with --joblog FILE: skip the inputs FILE holds, as GNU parallel")
        ->group(section::kInput);
    app_->add_option("--then", then_kind_,
                     "Give each ok result's path to a task of this KIND as soon as it lands, e.g. "
                     "'download --then thumbnail' (thumbnails beside the downloads); flags of options the first "
                     "kind lacks (--size, --quality) go to it, and its config section applies")
        ->option_text("KIND")
        ->group(section::kInput);
    app_->add_option("--results", request_.results_path,
                     "Write one JSON line per result to FILE as results arrive (- for stdout)")
        ->option_text("FILE")
        ->group(section::kOutput);
    app_->add_option("--timeline", request_.timeline_path,
                     "Draw the run as SVG into FILE (- for stdout) at the end: a lane per worker, a bar per task "
                     "(also later from a --results file: procpool timeline RESULTS -o FILE)")
        ->option_text("FILE")
        ->group(section::kOutput);
    app_->add_flag("--no-progress", no_progress_, "No progress bar (there is none unless stderr is a terminal)")
        ->group(section::kOutput);
    app_->add_flag("!--no-summary", request_.summary, "No summary on stderr at the end")->group(section::kOutput);
    add_producer_flags(app_, producer_,
                       "Fan the tasks out over every host serving the Redis Streams queue at HOST:PORT (kind options "
                       "are then the hosts' own)");
    const std::vector<KindSchema> flag_kinds = kinds_for_flags(inv);
    kind_flags_.add_to(app_, flag_kinds);
    document({"Each task runs in a worker process of its own; one that crashes, hangs or runs out of memory "
              "takes only itself down, and its task is retried. Inputs come as arguments, from --input-file "
              "(- for stdin), from ':::' values and ':::: FILE's, or all of these; what follows -- is exec's "
              "command (procpool run exec *.txt -- wc -l {}; procpool run exec -- echo {1} {2} ::: a b ::: 1 2). "
              "sum-squares and wordcount print their combined answer on stdout at the end.",
              schemas(*inv.registry), flag_kinds,
              "0 all tasks ok, 1 some task not ok, 2 usage error, 128+N after signal N."});
  }

  int execute(const Invocation& inv) override {
    KindRegistry& registry = *inv.registry;
    const std::vector<supervisor::ConfigSetting> settings = effective_config(config_path_, registry);
    apply_config(app_, settings, false);
    request_.progress = !no_progress_;
    const auto halt = supervisor::parse_halt(halt_);
    if (!halt)
      throw supervisor::UsageError("--halt must be never, now|soon,fail|success|done=N or N%, or 0, 1, 2, -1, -2, not '" +
                                   halt_ + "'");
    request_.halt = *halt;
    request_.pool = pool_options(pool_);
    request_.pool.admission = admission();
    load_plugins(request_.pool.plugins, registry);

    const bool remote = !producer_.address.empty();
    const KindInfo* kind = registry.find(request_.kind);
    if (kind == nullptr && !remote) find_kind(registry, request_.kind);  // throws, naming the kinds
    const KindSchema schema = kind != nullptr ? kind->schema() : KindSchema{request_.kind, "", {}, {}};
    const KindInfo* then = then_kind_.empty() ? nullptr : &find_kind(registry, then_kind_);
    const KindSchema then_schema = then != nullptr ? then->schema() : KindSchema{};
    std::vector<const KindSchema*> claimants{&schema};
    if (then != nullptr) claimants.push_back(&then_schema);
    std::vector<std::string> after_dashes = inv.after_dashes;
    try {  // GNU parallel's "::: a b" and ":::: FILE", after the command or among the inputs
      request_.sources = supervisor::take_sources(after_dashes, request_.shape);
      std::vector<supervisor::InputSource> among_inputs = supervisor::take_sources(request_.inputs, request_.shape);
      request_.sources.insert(request_.sources.begin(), among_inputs.begin(), among_inputs.end());
    } catch (const std::runtime_error& e) {
      throw supervisor::UsageError(e.what());
    }
    if (takes_words(schema)) kind_flags_.set_after_dashes(after_dashes);
    else request_.inputs.insert(request_.inputs.end(), after_dashes.begin(), after_dashes.end());
    kind_flags_.check_all_claimed(claimants);  // a kind not known here (remote) has no flags
    const KindOptions flags = kind_flags_.given_for(schema);
    for (const auto& [key, value] : flags.values())
      if (schema.find(key)->scope == OptionScope::Task) request_.remote_options.set(key, value);
    request_.schema = schema;
    request_.options = merged(options_from_config(schema, settings), flags);
    if (kind != nullptr) request_.options = checked_options(*kind, request_.options);
    if (then != nullptr) set_then(*then, then_schema, schema, settings);
    if (remote && !request_.joblog_path.empty())
      throw supervisor::UsageError("--joblog is for a run on this machine, not with --redis (its results: --results)");
    if (remote) return supervisor::redis::run_batch_redis(request_, producer_.resolved());
    return supervisor::run_batch(request_);
  }

 private:
  // `run KIND --help` shows that kind's options alone; `run --help` every kind's.
  static std::vector<KindSchema> kinds_for_flags(const Invocation& inv) {
    if (inv.named() == "run")
      for (int i = 2; i < inv.argc; ++i) {
        const std::string_view arg = inv.argv[i];
        if (arg != "-h" && arg != "--help") continue;
        for (int j = 2; j < inv.argc; ++j)
          if (const KindInfo* k = inv.registry->find(inv.argv[j])) return {k->schema()};
      }
    return schemas(*inv.registry);
  }

  // --delay, --memfree, --load. A --memfree past the machine's memory could never be met:
  // refused, rather than a run that waits for ever.
  supervisor::AdmissionLimits admission() const {
    supervisor::AdmissionLimits a;
    a.delay_ns = static_cast<uint64_t>(delay_s_ * 1e9);
    a.max_load = max_load_;
    if (!memfree_.empty()) {
      const auto bytes = procpool::parse_bytes(memfree_);
      if (!bytes) throw supervisor::UsageError("--memfree must be a SIZE such as 2G, not '" + memfree_ + "'");
      const uint64_t total = supervisor::memory_total();
      if (total != 0 && *bytes >= total)
        throw supervisor::UsageError("--memfree " + memfree_ + " is more than this machine's memory (" +
                                     std::to_string(total >> 20) + " MiB): no task could ever start");
      a.memfree_bytes = *bytes;
    }
    return a;
  }

  // Flags go to the first kind; those it does not have, to the second.
  void set_then(const KindInfo& then, const KindSchema& then_schema, const KindSchema& first,
                const std::vector<supervisor::ConfigSetting>& settings) {
    KindOptions then_flags;
    const KindOptions given = kind_flags_.given_for(then_schema);
    for (const auto& [key, value] : given.values())
      if (first.find(key) == nullptr) then_flags.set(key, value);
    request_.then_kind = then_kind_;
    request_.then_schema = then_schema;
    request_.then_options = checked_options(then, merged(options_from_config(then_schema, settings), then_flags));
  }

  supervisor::RunRequest request_;
  PoolFlags pool_;
  ProducerFlags producer_;
  KindFlags kind_flags_;
  std::string config_path_, then_kind_, halt_ = "never", memfree_;
  double delay_s_ = 0, max_load_ = 0;
  bool no_progress_ = false;
};

}  // namespace

std::unique_ptr<Command> add_run(CLI::App& parent, const Invocation& inv) {
  return std::make_unique<RunCommand>(parent, inv);
}

}  // namespace procpool::cli
