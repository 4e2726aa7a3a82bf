#pragma once
// exec's command template: GNU parallel's replacement strings in each argument.
#include <string>
#include <string_view>
#include <vector>

#include "child/task_api.hpp"

namespace procpool::kinds {

// The command for one input: in every argument {} is the input, {.} it without its
// extension, {/} its file name, {/.} that without extension, {//} its folder ("." for a
// bare name, as GNU parallel), {#} the job's number (1, 2, ... in input order) and {%}
// its slot (1 .. jobs). No replacement string anywhere: the input is appended as a last
// argument, as GNU parallel does.
std::vector<std::string> command_for(const std::vector<std::string>& templ, std::string_view input,
                                     const TaskContext& task);

}  // namespace procpool::kinds
