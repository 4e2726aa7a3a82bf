#pragma once
// The run-side halves of sum-squares and wordcount: their inputs from a range, and the
// reducers that combine their tasks' outputs into one answer (ipc/kind_schema.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipc/kind_schema.hpp"

namespace procpool::kinds {

// [0, n) split into `chunks` ranges as sum-squares inputs ("BEGIN END"), none empty.
std::vector<std::string> split_range(uint64_t n, uint64_t chunks);
// Adds decimal outputs exactly (sum-squares' pieces exceed 64 bits).
std::unique_ptr<Reducer> decimal_sum();
// Merges {"word": count} outputs; prints the total, the distinct words and the top ones.
std::unique_ptr<Reducer> word_merge(unsigned top);

}  // namespace procpool::kinds
