// --resume reads an earlier results file that a killed run may have cut anywhere.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "supervisor/batch/resume.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/procpool-fuzz-resume-" + std::to_string(getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  std::size_t skipped = 0;
  const auto done = procpool::supervisor::finished_inputs(path, "noop", &skipped);
  (void)procpool::supervisor::without_finished({"a", "b", "a"}, done);
  return 0;
}
