#pragma once
// Man pages (man(7) macros) for procpool(1) and each command's procpool-COMMAND(1), made
// from the definitions --help shows, so that the two never disagree. Written at build time
// by `procpool generate-docs` and installed with the binary.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "supervisor/cli/command.hpp"

namespace procpool::cli {

// procpool(1): the commands, the global options, the files.
std::string root_man_page(const CLI::App& root, const std::string& version);
// procpool-COMMAND(1).
std::string command_man_page(const CLI::App& root, const Command& command, const std::string& version);

}  // namespace procpool::cli
