#pragma once
// CLI11's parse errors in procpool's own words: "procpool run: unknown option '--workrs';
// did you mean '--workers'?", as every other usage error reads (cli.cpp), instead of
// CLI11's "The following argument was not expected" and "Run with --help".
#include <CLI/CLI.hpp>
#include <string>

namespace procpool::cli {

// What went wrong on the command line of `command` (whose flags suggest near misses),
// without the "procpool SUB: " prefix and the help hint.
std::string describe_parse_error(const CLI::ParseError& error, const CLI::App& command);

}  // namespace procpool::cli
