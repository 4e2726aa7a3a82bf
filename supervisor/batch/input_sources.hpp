#pragma once
// GNU parallel's input sources for `run`: "::: VALUE..." and ":::: FILE..." after the
// command (or among the inputs before "--"), combined as every combination, the first
// source slowest, or linked value by value (--link, or ":::+" / "::::+" for one source
// with the one before); and what makes an input several values: --colsep, -n/-N.
//
// An input of several values is the values joined by NUL (ipc/input_values.hpp), which
// exec's {1} {2} ... take apart. Only a kind that says so takes such inputs.
#include <optional>
#include <string>
#include <vector>

#include "ipc/input_values.hpp"

namespace procpool::supervisor {

using ipc::kValueSeparator;

struct InputSource {
  std::vector<std::string> values;
  bool linked = false;  // ":::+" / "::::+": value by value with the source before it
};

struct InputShape {
  bool null = false;        // -0: inputs in files and stdin end with NUL, not newline
  std::string colsep;       // --colsep REGEX: each input split into values
  unsigned max_args = 0;    // -n N: N inputs per task (0: one)
  bool link = false;        // --link: every source value by value
};

// Takes the sources out of words, from the first ":::", "::::", ":::+" or "::::+" on
// (what is before stays). "::::" files are read ("-": stdin), one input per line (per
// NUL with shape.null). Throws std::runtime_error naming a file that cannot be read, or
// a marker with nothing after it.
std::vector<InputSource> take_sources(std::vector<std::string>& words, const InputShape& shape);

// The run's inputs: `given` (arguments, --input-file) as a first source when there is
// any, then the sources, combined; then --colsep and -n applied. Throws
// std::invalid_argument for a bad --colsep, or -n with several sources.
std::vector<std::string> combine_sources(std::vector<std::string> given, std::vector<InputSource> sources,
                                         const InputShape& shape);

// True when some input holds several values.
bool has_several_values(const std::vector<std::string>& inputs);

}  // namespace procpool::supervisor
