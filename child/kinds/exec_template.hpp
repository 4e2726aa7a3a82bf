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
// its slot (1 .. jobs). An input of several values (joined by NUL: ":::" sources, --colsep,
// -n, -m) has them as {1} {2} ..., each with the same modifiers ({1.} {2/} ...; past the
// last value: empty), and {} is all of them, each its own argument: "x{}y" with a and b
// gives "xa" "by", as GNU parallel's shell splits it. context (-X): a word with {} in it is
// repeated for each value instead ("xay" "xby"). No replacement string anywhere: the
// values are appended as arguments, as GNU parallel does.
std::vector<std::string> command_for(const std::vector<std::string>& templ, std::string_view input,
                                     const TaskContext& task, bool context = false);

// --shell: the template's words joined by spaces are a shell command line, run as
// `/bin/sh -c LINE`; every value replaced into it is quoted for the shell (so an input
// is never code; {} of several values: each quoted, spaces between), and the values are
// appended quoted when it has no replacement string. context (-X): a word of the line
// (what spaces part) with {} in it is repeated for each value.
std::vector<std::string> shell_command_for(const std::vector<std::string>& templ, std::string_view input,
                                           const TaskContext& task, bool context = false);

// text as one shell word: itself when it holds nothing the shell reads, else in single
// quotes ('\'' for a quote).
std::string shell_quoted(const std::string& text);

}  // namespace procpool::kinds
