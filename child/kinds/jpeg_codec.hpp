#pragma once
// JPEG decode with shrink-on-load and encode, straight on libjpeg(-turbo): the thumbnail
// kind's fast path. Magick++ reads JPEGs too, but into 16-bit pixel caches with property
// bookkeeping that cost as much as the decode itself (measured in docs/BENCHMARKS.md).
// jpeglib.h needs size_t and FILE declared before it.
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>

#include <csetjmp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "child/kinds/pixels.hpp"

namespace procpool::kinds {

// Any libjpeg error, and any corrupt-data warning (a truncated file, say): the image is
// not trusted. what() is libjpeg's own message.
struct JpegError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// True when bytes start like a JPEG file (SOI marker).
bool looks_like_jpeg(std::string_view bytes);

class JpegDecoder {
 public:
  // Reads the header of the JPEG in bytes (which must outlive the decoder).
  explicit JpegDecoder(std::string_view bytes);
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  Size size() const { return {cinfo_.image_width, cinfo_.image_height}; }
  // Grey and YCbCr/RGB JPEGs decode here; CMYK and YCCK ones are left to Magick.
  bool supported() const;
  // Decodes at the smallest scale M/8 (M = 1..8) whose result still covers at_least, so a
  // 12 MP photo bound for 128 px is decoded at 1/8 size; a progressive one at 1/8 without
  // its last scans. Once per decoder.
  Pixels decode(Size at_least);
  // Whether the last decode() stopped after the scans it needed (for tests).
  bool decoded_dc_only() const { return cinfo_.buffered_image != 0; }

  struct ErrorManager {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int warnings;
  };

 private:
  bool needed_coefficients_complete() const;

  jpeg_decompress_struct cinfo_{};
  ErrorManager err_{};
  bool ends_with_eoi_ = false;
};

// JPEG with 4:2:0 chroma at quality 1..100; baseline (Pillow's default) or progressive.
std::string encode_jpeg(const Pixels& pixels, int quality, bool progressive = false);

}  // namespace procpool::kinds
