#pragma once
// The C interface of procpool_magick.so: thumbnails of every format other than plain
// JPEG, through Magick++. It is a module loaded on first use (magick_loader.hpp) rather
// than a link dependency, because Magick's ~30 shared libraries cost every child process
// ~10 ms of start-up in page faults, whether it ever meets a PNG or not.
#include <cstddef>
#include <cstdint>

extern "C" {

struct PpMagickRequest {
  const char* data;      // the whole input file
  size_t size;
  const char* dest;      // where to write (a temporary name keeping the extension)
  uint32_t box_width;    // fit within this box, aspect kept, never enlarged
  uint32_t box_height;
  int quality;           // 1..100
  uint32_t max_side;     // pixels a side, and in all, above which the image is refused
  uint64_t max_pixels;
};

struct PpMagickResult {
  uint32_t width;        // of the thumbnail written
  uint32_t height;
  char error[1024];      // when the call returns non-zero
};

// 0 on success; otherwise non-zero with result->error set. Never throws.
int procpool_magick_thumbnail(const PpMagickRequest* request, PpMagickResult* result);
using PpMagickThumbnailFn = int (*)(const PpMagickRequest*, PpMagickResult*);
inline constexpr const char* kPpMagickSymbol = "procpool_magick_thumbnail";
inline constexpr const char* kPpMagickModule = "procpool_magick.so";
}
