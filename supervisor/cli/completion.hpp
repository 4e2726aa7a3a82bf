#pragma once
// Shell completion for bash, zsh and fish, made from the definitions --help shows: the
// commands, each command's flags and what goes after them (files, folders, one of some
// words), the task kinds, and each kind's own flags once the kind is on the line.
// Written at build time by `procpool generate-docs` and installed where each shell looks.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/cli/command.hpp"

namespace procpool::cli {

enum class Shell { Bash, Zsh, Fish };

std::string completion_script(Shell shell, const std::vector<std::unique_ptr<Command>>& commands);

}  // namespace procpool::cli
