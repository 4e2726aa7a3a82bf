// The parsers of user input: option values, sizes, durations, thumbnail sizes, word counts,
// download file names from URL paths, and the JPEG path (header and scaled decode of
// arbitrary bytes). Each checks what it promises of what it accepts (a broken promise
// traps): a value in its range that reads back the same when written plainly, words
// that count as themselves, a decode of the size asked for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "child/kinds/jpeg_codec.hpp"
#include "child/kinds/text.hpp"
#include "child/kinds/thumbnail_geometry.hpp"
#include "child/kinds/url_names.hpp"
#include "ipc/kind_options.hpp"
#include "ipc/units.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_units(const std::string& in) {
  if (const auto bytes = procpool::parse_bytes(in)) {
    check(*bytes > 0 && *bytes <= uint64_t{1} << 62);
    check(procpool::parse_bytes(std::to_string(*bytes)) == bytes);
  }
  if (const auto timeout = procpool::parse_timeout(in)) {
    check((timeout->ns == 0) != (timeout->percent == 0));  // seconds or a percentage, never both
    if (timeout->percent != 0) {
      check(timeout->percent <= 100000);
      const auto again = procpool::parse_timeout(std::to_string(timeout->percent) + "%");
      check(again && again->percent == timeout->percent);
    } else {
      check(timeout->ns >= 1'000'000 - 1 && timeout->ns <= uint64_t{30} * 86400 * 1'000'000'000);
    }
  }
  if (const auto size = procpool::kinds::parse_size(in)) {
    check(size->width >= 1 && size->width <= 16384 && size->height >= 1 && size->height <= 16384);
    check(procpool::kinds::parse_size(std::to_string(size->width) + "x" + std::to_string(size->height)) == size);
    const procpool::kinds::Size thumb = procpool::kinds::fit_within(*size, {64, 64});
    check(thumb.width >= 1 && thumb.height >= 1 && thumb.width <= 64 && thumb.height <= 64);
    check(thumb.width <= size->width && thumb.height <= size->height);  // never enlarged
  }
}

// A word is lowercase ASCII or non-ASCII, with apostrophes only inside, and counts as
// one word of itself.
void check_words(const std::string& in) {
  const auto counts = procpool::kinds::count_words(in);
  if (!counts) return;
  uint64_t total = 0;
  int rechecked = 0;
  for (const auto& [word, n] : *counts) {
    check(!word.empty() && n >= 1 && word.front() != '\'' && word.back() != '\'');
    for (const char c : word) {
      const auto u = static_cast<unsigned char>(c);
      check(u >= 0x80 || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '\'');
    }
    total += n * word.size();
    if (rechecked++ < 20) {
      const auto alone = procpool::kinds::count_words(word);
      check(alone && alone->size() == 1 && alone->begin()->first == word && alone->begin()->second == 1);
    }
  }
  check(total <= in.size());
}

// The download's file name: one component, never hidden, never empty, never too long.
void check_file_name(const std::string& in) {
  const std::string name = procpool::kinds::safe_file_name(in);
  check(!name.empty() && name.size() <= procpool::kinds::kMaxNameBytes && name[0] != '.' && name[0] != ' ');
  check(name.find('/') == std::string::npos && name.find('\\') == std::string::npos);
  for (const char c : name) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

// A decode at the scale asked for: at least the size wanted, at most the image's, every
// pixel there.
void check_jpeg(const std::string& in) {
  if (!procpool::kinds::looks_like_jpeg(in)) return;
  try {
    procpool::kinds::JpegDecoder decoder(in);
    const auto s = decoder.size();
    if (!decoder.supported() || uint64_t{s.width} * s.height > 4'000'000) return;
    const procpool::kinds::Size want = procpool::kinds::fit_within(s, {64, 64});
    const procpool::kinds::Pixels p = decoder.decode(want);
    check(p.channels == 1 || p.channels == 3);
    check(p.width >= want.width && p.height >= want.height && p.width <= s.width && p.height <= s.height);
    check(p.data.size() == std::size_t{p.width} * p.height * p.channels);
  } catch (const procpool::kinds::JpegError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  check_units(in);
  check_words(in);
  check_file_name(in);
  const auto options = procpool::KindOptions::decode(in);
  try {
    const int64_t quality = options.get_int("quality", 75, 1, 100);
    check(quality >= 1 && quality <= 100);
  } catch (const std::invalid_argument&) {
  }
  check_jpeg(in);
  return 0;
}
