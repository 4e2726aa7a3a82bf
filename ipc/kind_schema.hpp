#pragma once
// What a task kind tells every front end about itself: its name, its options (each with a
// type, a default, a range or choices and a help text) and the hooks `run` calls on the
// supervisor's side (input expansion, a reducer). The kind declares it once, in its own
// file (child/kinds/); the command line's flags, the config file's sections, serve's and
// Redis' per-request options and the C++ API's kind_options are all derived from it.
//
// Values have one spelling everywhere (a flag, a TOML value, a JSON request): booleans
// true/false, integers and floats in decimal, sizes as bytes or "512M", durations as
// seconds ("2.5"), lists as several values, enums as one of their choices. canonical()
// turns a value as written into the one form the kind reads; canonical forms are
// accepted again unchanged, so a value may be checked on each side of the rings.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/kind_options.hpp"

namespace procpool {

enum class OptionType { Bool, Int, Float, Size, Duration, String, List, Enum };

// Where an option is read: Task options travel to the workers (and with serve and Redis
// requests); Run options are read only by the kind's hooks in `run` (how to split a range,
// how many words to print) and mean nothing to a worker or a service; Host options are a
// service's policy, set in its config file only (exec's allow list), never by a request;
// Batch options travel to the workers of `run` only (how exec hands its commands' output to
// run's printing): a service neither reads them from its config nor takes them in a request.
enum class OptionScope { Task, Run, Host, Batch };

struct OptionSpec {
  std::string name;  // lower-case words and dashes: the flag --NAME, the TOML key NAME
  OptionType type = OptionType::String;
  std::string fallback;  // the default, canonical; empty: unset unless given
  std::string help;      // one line
  std::string unit;      // what --help shows for the value, e.g. "WxH", "DIR", "SECONDS"
  int64_t min = 0, max = 0;          // Int, Size: accepted range (max 0: no upper bound)
  double min_real = 0, max_real = 0;  // Float, Duration (seconds)
  std::vector<std::string> choices;  // Enum
  OptionScope scope = OptionScope::Task;
  // ${VAR} is replaced by the environment's value where a local user wrote the value (a
  // flag, the config file), never where it came from a client or another host.
  bool expand_env = false;
  // On the command line it is what follows "--" (exec's command), not a flag.
  bool after_dashes = false;
  // It names a file or folder of whoever wrote it (thumbnail's --out): `submit` sends it
  // absolute, since the server's working folder is not the caller's.
  bool local_path = false;
  // A one-letter flag too (exec's -k for --keep-order, as GNU parallel has it); 0: none.
  char letter = 0;

  OptionSpec&& run_side() && { scope = OptionScope::Run; return std::move(*this); }
  OptionSpec&& host_policy() && { scope = OptionScope::Host; return std::move(*this); }
  OptionSpec&& batch_only() && { scope = OptionScope::Batch; return std::move(*this); }
  OptionSpec&& with_env() && { expand_env = true; return std::move(*this); }
  OptionSpec&& given_after_dashes() && { after_dashes = true; return std::move(*this); }
  OptionSpec&& shown_as(std::string u) && { unit = std::move(u); return std::move(*this); }
  OptionSpec&& a_local_path() && { local_path = true; return std::move(*this); }
  OptionSpec&& with_letter(char c) && { letter = c; return std::move(*this); }
  bool takes_value() const { return type != OptionType::Bool; }
};

// Declaring options, one line each in a kind's file.
namespace opt {
OptionSpec boolean(std::string name, bool fallback, std::string help);
OptionSpec integer(std::string name, std::string fallback, int64_t min, int64_t max, std::string help);
OptionSpec real(std::string name, std::string fallback, double min, double max, std::string help);
OptionSpec size(std::string name, std::string fallback, int64_t min, int64_t max, std::string help);
OptionSpec seconds(std::string name, std::string fallback, double min, double max, std::string help);
OptionSpec text(std::string name, std::string fallback, std::string help, std::string unit = "VALUE");
OptionSpec list(std::string name, std::string help, std::string unit = "VALUE");
OptionSpec choice(std::string name, std::string fallback, std::vector<std::string> choices, std::string help);
}  // namespace opt

// A value that does not fit its option. what() names the kind and the option, never the
// syntax of one front end: "thumbnail option 'quality' must be an integer from 1 to 100,
// not '200'".
struct OptionError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// "must be an integer from 1 to 100" and the like: what the option accepts.
std::string accepted_values(const OptionSpec& spec);
// The canonical form of a value as written, or throws OptionError("KIND option 'NAME' ...").
// A List's value is a JSON array of strings.
std::string canonical(const std::string& kind, const OptionSpec& spec, std::string_view value);
// ${VAR} replaced by the environment's value; an unset variable or an unclosed ${ throws
// OptionError.
std::string expand_environment(const std::string& kind, const OptionSpec& spec, const std::string& text);

// Options as requests carry them (serve's socket, a Redis entry): a JSON object whose
// values are strings, numbers, true/false or arrays of strings, read into text values
// (a list as a JSON array of strings). nullopt with *error set when it is not that.
std::optional<KindOptions> options_from_json(std::string_view object_text, std::string* error);
// The reverse, for producers: each value as a string, a list as an array of strings.
std::string options_to_json(const KindOptions& options);

// The combined answer of a run whose tasks each do one piece (a range of a sum, one
// book's words): `run` hands it every ok output, then prints what finish() returns.
// What a kind prints on `run`'s stdout and stderr as its tasks end (exec: each command's
// output, spooled to files by the workers). Made once per run before the pool starts;
// handed every final result, in the order they land, on the supervisor's loop; ticked
// about every 100 ms; finished once every result is in.
class RunPrinter {
 public:
  struct Result {
    uint64_t id = 0;        // the task's: 0, 1, 2, ... in the order the inputs were given
    uint32_t attempts = 0;  // runs started, the last one's output is the one printed
    bool ok = false;
    std::string_view input;
    // The worker that ran its last attempt, and whether it died in it (crashed, timed out,
    // killed): then what it had written is where that worker left it.
    long worker_pid = 0;
    bool worker_died = false;
  };
  virtual ~RunPrinter() = default;
  // Each task as it is submitted, before the pool runs it.
  virtual void submitted(uint64_t /*id*/, std::string_view /*input*/) {}
  // False once stdout is closed by its reader (`| head -1`): the run should stop.
  virtual bool add(const Result& result) = 0;
  virtual bool tick() { return true; }
  virtual void finish() {}
};

class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual void add(std::string_view output) = 0;
  virtual std::string finish() = 0;  // the lines printed on stdout
};

// What `run` asks of a kind besides running its tasks. Each may be empty.
struct KindHooks {
  // The run's inputs as given (arguments, --input-file) to the inputs its tasks take: a
  // folder becomes its images, --n becomes ranges. workers: the pool's size. Throws
  // std::invalid_argument (a usage error) or std::runtime_error.
  std::function<std::vector<std::string>(std::vector<std::string> inputs, const KindOptions& options,
                                         unsigned workers)>
      expand_inputs;
  // True when expand_inputs maps each input on its own and adds nothing else (a folder
  // to its files), so that `run` may give it the inputs a read at a time as they arrive
  // and start tasks before the input ends. Empty or false: it needs every input at once
  // (exec's -m groups them, sum-squares' --n adds ranges, download's --links-from a
  // listing), and `run` reads the whole input first.
  std::function<bool(const KindOptions& options)> expands_each_input;
  std::function<std::unique_ptr<Reducer>(const KindOptions& options)> reducer;
  // Makes the run's printer; it may complete the options the workers will get (exec: the
  // private folder it made for the spool). results_on_stdout: `--results -` holds stdout.
  std::function<std::unique_ptr<RunPrinter>(KindOptions& options, bool results_on_stdout)> printer;
  // What `run` prints on stdout for each ok result as it lands, a line without its
  // newline (checksum's "HEX  NAME", as sha256sum prints it); empty: nothing.
  std::function<std::string(std::string_view output)> stdout_line;
  // What can be checked before the first task, with the options the run will use (an
  // output folder that cannot be made or written): throws std::invalid_argument naming
  // the path, a usage error, rather than a failed task per input after all were read.
  std::function<void(const KindOptions& options)> check_before_run;
  // True for an input that is one of the kind's own outputs (thumbnail's "*_thumbnail.*"):
  // `run` leaves such inputs out, saying how many, so that a second run over the same
  // files (`find . -name '*.jpg' | procpool run thumbnail --input-file -`) does not make
  // outputs of its outputs.
  std::function<bool(std::string_view input)> own_output;
  // True for an input that names a file or folder of the caller's (not a URL, not a
  // number): `submit` sends it absolute, resolved in the caller's working folder, since
  // the server's is another (a packaged service's is /). Empty: inputs are not paths.
  std::function<bool(std::string_view input)> local_path;
  // --dry-run: what the task for this input (id: 0, 1, ... in input order) would do, as
  // a line (exec: its command, quoted for a shell). Empty: the input is printed.
  std::function<std::string(const KindOptions& options, std::string_view input, uint64_t id)> describe;
  // An input may be several values joined by NUL (run's ":::" sources combined,
  // --colsep, -n; supervisor/batch/input_sources.hpp): exec's {1} {2}. Other kinds take
  // one value per input, and run refuses such inputs for them.
  bool several_values = false;
  // Appended to "no inputs: give them as arguments or with --input-file" when there are none.
  std::string inputs_hint;
  // A service's (serve, a Redis host) last word on options a request brought, checked and
  // laid over the host's own (`host`, from its config): throws std::invalid_argument to
  // refuse them (exec runs only the commands the host's config allows).
  std::function<void(const KindOptions& host, const KindOptions& requested)> admit_request;
};

struct KindSchema {
  std::string name;
  std::string summary;  // one line, for --help
  std::vector<OptionSpec> options;
  KindHooks hooks;

  const OptionSpec* find(std::string_view option) const;
  // Every option of the given ones checked and made canonical, defaults filled in. An
  // unknown option is an OptionError that lists the kind's options.
  KindOptions checked(const KindOptions& given) const;
  // Only the options that travel to a service's or the API's workers (OptionScope::Task).
  KindOptions task_options(const KindOptions& options) const;
  // Those that travel to `run`'s workers (OptionScope::Task and Batch).
  KindOptions run_task_options(const KindOptions& options) const;
  // "quality, size, out" or "none", for messages.
  std::string option_names() const;
};

}  // namespace procpool
