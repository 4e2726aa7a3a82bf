#pragma once
// Map-reduce for batch runs: kinds whose tasks each do one piece of a whole (a range of a
// sum, one book's word counts) have their outputs combined into one answer, printed on
// stdout at the end. The map half is just the pool; this is the reduce half, and the
// generation of inputs for kinds that split a range.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/pool.hpp"

namespace procpool::supervisor {

class Reducer {
 public:
  virtual ~Reducer() = default;
  // An ok result's output (errors are not reduced: the run's exit status reports them).
  virtual void add(std::string_view output) = 0;
  // The combined answer, as the lines printed on stdout.
  virtual std::string finish() = 0;
};

struct ReduceSettings {
  unsigned top = 10;  // wordcount: how many of the most frequent words to print
};

// The reducer for a kind, or nullptr for kinds whose results stand alone.
std::unique_ptr<Reducer> make_reducer(const std::string& kind, const ReduceSettings& settings);

// [0, n) split into `chunks` ranges as sum-squares inputs ("BEGIN END").
std::vector<std::string> split_range(uint64_t n, uint64_t chunks);

}  // namespace procpool::supervisor
