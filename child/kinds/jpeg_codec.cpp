// libjpeg reports errors by calling error_exit, which must not return: we longjmp back to
// the setjmp in the calling function and throw from there. No object with a destructor
// is created between a setjmp and the libjpeg calls it guards, so the jump skips none.
#include "child/kinds/jpeg_codec.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace procpool::kinds {

namespace {

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegDecoder::ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);  // NOLINT(cert-err52-cpp): libjpeg's error_exit must not return
}

// Level -1 is a warning about corrupt data (e.g. "Premature end of JPEG file"): keep the
// first one's text; the caller rejects the image. Trace messages (level >= 0) are dropped.
void on_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegDecoder::ErrorManager*>(cinfo->err);
  if (level < 0 && err->warnings++ == 0) (*cinfo->err->format_message)(cinfo, err->message);
}

void install(JpegDecoder::ErrorManager& err) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.warnings = 0;
  err.message[0] = '\0';
}

}  // namespace

bool looks_like_jpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

JpegDecoder::JpegDecoder(std::string_view bytes) {
  install(err_);
  cinfo_.err = &err_.pub;
  jpeg_create_decompress(&cinfo_);
  if (setjmp(err_.jump)) {  // NOLINT(cert-err52-cpp): see the top of this file
    jpeg_destroy_decompress(&cinfo_);
    throw JpegError(err_.message);
  }
  jpeg_mem_src(&cinfo_, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo_, TRUE);
  // EOI marker at the end, allowing for trailing padding some writers add.
  std::string_view tail = bytes.substr(bytes.size() > 64 ? bytes.size() - 64 : 0);
  while (!tail.empty() && (tail.back() == '\0' || tail.back() == '\n' || tail.back() == '\r')) tail.remove_suffix(1);
  ends_with_eoi_ = tail.size() >= 2 && static_cast<unsigned char>(tail[tail.size() - 2]) == 0xFF &&
                   static_cast<unsigned char>(tail.back()) == 0xD9;
}

JpegDecoder::~JpegDecoder() { jpeg_destroy_decompress(&cinfo_); }

bool JpegDecoder::supported() const {
  return cinfo_.jpeg_color_space == JCS_GRAYSCALE || cinfo_.jpeg_color_space == JCS_YCbCr ||
         cinfo_.jpeg_color_space == JCS_RGB;
}

Pixels JpegDecoder::decode(Size at_least) {
  Pixels out;  // before setjmp: the jump back must not skip its construction
  if (setjmp(err_.jump)) throw JpegError(err_.message);  // NOLINT(cert-err52-cpp)
  unsigned m = 1;
  for (; m < 8; ++m) {
    const unsigned long w = (static_cast<unsigned long>(cinfo_.image_width) * m + 7) / 8;
    const unsigned long h = (static_cast<unsigned long>(cinfo_.image_height) * m + 7) / 8;
    if (w >= at_least.width && h >= at_least.height) break;
  }
  cinfo_.scale_num = m;
  cinfo_.scale_denom = 8;
  cinfo_.out_color_space = cinfo_.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  // At 1/8 scale each 8x8 luma block becomes one pixel: its DC coefficient alone (and
  // 4:2:0 chroma a 2x2 block from a few coefficients). A progressive JPEG sends those in
  // its earlier scans, so the last scans (the largest, and most of the decode time) need
  // not be decoded at all. The result is identical to a full decode at 1/8 (tested). A
  // file that does not end with its EOI marker is decoded in full instead, so that
  // truncation is still reported.
  const bool dc_only = m == 1 && cinfo_.progressive_mode && ends_with_eoi_;
  cinfo_.buffered_image = dc_only ? TRUE : FALSE;
  cinfo_.do_block_smoothing = FALSE;
  jpeg_start_decompress(&cinfo_);
  if (dc_only) {
    while (!needed_coefficients_complete()) {
      const int status = jpeg_consume_input(&cinfo_);
      if (status == JPEG_REACHED_EOI || status == JPEG_SUSPENDED) break;
    }
    jpeg_start_output(&cinfo_, cinfo_.input_scan_number);
  }
  out.width = cinfo_.output_width;
  out.height = cinfo_.output_height;
  out.channels = static_cast<uint32_t>(cinfo_.output_components);
  out.data.resize(size_t{out.width} * out.height * out.channels);
  while (cinfo_.output_scanline < cinfo_.output_height) {
    JSAMPROW row = out.data.data() + size_t{cinfo_.output_scanline} * out.width * out.channels;
    jpeg_read_scanlines(&cinfo_, &row, 1);
  }
  if (dc_only) {
    jpeg_finish_output(&cinfo_);
    jpeg_abort_decompress(&cinfo_);  // the AC scans are never read
  } else {
    jpeg_finish_decompress(&cinfo_);
  }
  if (err_.warnings > 0) throw JpegError(std::string("corrupt JPEG data: ") + err_.message);
  return out;
}

// The zigzag position of each natural-order (row * 8 + column) DCT coefficient.
constexpr std::array<int, 64> zigzag_positions() {
  std::array<int, 64> pos{};
  int k = 0;
  for (int sum = 0; sum < 15; ++sum) {
    const int lo = sum < 8 ? 0 : sum - 7, hi = sum < 8 ? sum : 7;
    for (int i = 0; i <= hi - lo; ++i) {
      const int row = (sum % 2 == 0) ? hi - i : lo + i;  // even diagonals run up and right
      pos[row * 8 + (sum - row)] = k++;
    }
  }
  return pos;
}

bool JpegDecoder::needed_coefficients_complete() const {
  // Which coefficients libjpeg-turbo's reduced IDCTs read (jidctred.c): 1x1 the DC alone;
  // 2x2 rows and columns 0, 1, 3, 5, 7 (an 8-to-2 step of the LL&M IDCT); larger sizes:
  // assume all. coef_bits[c][k] is the precision received so far of zigzag coefficient
  // k: -1 none yet, 0 every bit.
  static constexpr std::array<int, 64> kZigzag = zigzag_positions();
  static constexpr int kUsedBy2x2[] = {0, 1, 3, 5, 7};
  for (int c = 0; c < cinfo_.num_components; ++c) {
    const int size = cinfo_.comp_info[c].DCT_scaled_size;
    if (size == 1) {
      if (cinfo_.coef_bits[c][0] != 0) return false;
    } else if (size == 2) {
      for (int row : kUsedBy2x2)
        for (int col : kUsedBy2x2)
          if (cinfo_.coef_bits[c][kZigzag[row * 8 + col]] != 0) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::string encode_jpeg(const Pixels& pixels, int quality, bool progressive) {
  jpeg_compress_struct cinfo{};
  JpegDecoder::ErrorManager err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  install(err);
  cinfo.err = &err.pub;
  jpeg_create_compress(&cinfo);
  if (setjmp(err.jump)) {  // NOLINT(cert-err52-cpp)
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    throw JpegError(err.message);
  }
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = pixels.width;
  cinfo.image_height = pixels.height;
  cinfo.input_components = static_cast<int>(pixels.channels);
  cinfo.in_color_space = pixels.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data.data() + size_t{cinfo.next_scanline} * pixels.width * pixels.channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

}  // namespace procpool::kinds
