#pragma once
// --resume: what an earlier run with the same --results file already finished.
#include <map>
#include <string>
#include <vector>

namespace procpool::supervisor {

// Reads the JSON lines of an earlier results file and counts, per input, the results of
// `kind` with status ok. A missing file counts nothing. A last line cut short (the run was
// killed mid-write) is removed from the file, so that appending starts on a fresh line.
// Malformed lines are skipped and counted in *skipped. Throws std::runtime_error when
// the file exists but cannot be read or repaired.
std::map<std::string, std::size_t> finished_inputs(const std::string& path, const std::string& kind,
                                                   std::size_t* skipped);

// True (and one fewer left to skip) when input is among finished: an input given n times
// and finished k times is skipped k times.
bool take_finished(std::map<std::string, std::size_t>& finished, const std::string& input);

// inputs without those finished (an input given n times and finished k times runs n - k times).
std::vector<std::string> without_finished(const std::vector<std::string>& inputs,
                                          std::map<std::string, std::size_t> finished);

}  // namespace procpool::supervisor
