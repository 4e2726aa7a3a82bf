// The parsers of user input: option values, sizes, durations, thumbnail sizes, word counts,
// download file names from URL paths, and the JPEG path (header and scaled decode of arbitrary bytes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "child/kinds/jpeg_codec.hpp"
#include "child/kinds/text.hpp"
#include "child/kinds/thumbnail_geometry.hpp"
#include "child/kinds/url_names.hpp"
#include "ipc/kind_options.hpp"
#include "ipc/units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  (void)procpool::parse_bytes(in);
  (void)procpool::parse_timeout(in);
  (void)procpool::kinds::parse_size(in);
  (void)procpool::kinds::count_words(in);
  // A download's file name: one component, never hidden, never empty, never too long.
  const std::string name = procpool::kinds::safe_file_name(in);
  if (name.empty() || name.size() > procpool::kinds::kMaxNameBytes || name[0] == '.' || name[0] == ' ' ||
      name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
    __builtin_trap();
  for (const char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
  const auto options = procpool::KindOptions::decode(in);
  try {
    (void)options.get_int("quality", 75, 1, 100);
  } catch (const std::invalid_argument&) {
  }
  if (procpool::kinds::looks_like_jpeg(in)) {
    try {
      procpool::kinds::JpegDecoder decoder(in);
      const auto s = decoder.size();
      if (decoder.supported() && uint64_t{s.width} * s.height <= 4'000'000)
        (void)decoder.decode(procpool::kinds::fit_within(s, {64, 64}));
    } catch (const procpool::kinds::JpegError&) {
    }
  }
  return 0;
}
