// libjpeg reports errors by calling error_exit, which must not return: we longjmp back to
// the setjmp in the calling function and throw from there. No object with a destructor
// is created between a setjmp and the libjpeg calls it guards, so the jump skips none.
#include "child/kinds/jpeg_codec.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace procpool::kinds {

namespace {

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegDecoder::ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
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
  if (setjmp(err_.jump)) {
    jpeg_destroy_decompress(&cinfo_);
    throw JpegError(err_.message);
  }
  jpeg_mem_src(&cinfo_, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo_, TRUE);
}

JpegDecoder::~JpegDecoder() { jpeg_destroy_decompress(&cinfo_); }

bool JpegDecoder::supported() const {
  return cinfo_.jpeg_color_space == JCS_GRAYSCALE || cinfo_.jpeg_color_space == JCS_YCbCr ||
         cinfo_.jpeg_color_space == JCS_RGB;
}

Pixels JpegDecoder::decode(Size at_least) {
  Pixels out;  // before setjmp: the jump back must not skip its construction
  if (setjmp(err_.jump)) throw JpegError(err_.message);
  unsigned m = 1;
  for (; m < 8; ++m) {
    const unsigned long w = (static_cast<unsigned long>(cinfo_.image_width) * m + 7) / 8;
    const unsigned long h = (static_cast<unsigned long>(cinfo_.image_height) * m + 7) / 8;
    if (w >= at_least.width && h >= at_least.height) break;
  }
  cinfo_.scale_num = m;
  cinfo_.scale_denom = 8;
  cinfo_.out_color_space = cinfo_.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo_);
  out.width = cinfo_.output_width;
  out.height = cinfo_.output_height;
  out.channels = static_cast<uint32_t>(cinfo_.output_components);
  out.data.resize(size_t{out.width} * out.height * out.channels);
  while (cinfo_.output_scanline < cinfo_.output_height) {
    JSAMPROW row = out.data.data() + size_t{cinfo_.output_scanline} * out.width * out.channels;
    jpeg_read_scanlines(&cinfo_, &row, 1);
  }
  jpeg_finish_decompress(&cinfo_);
  if (err_.warnings > 0) throw JpegError(std::string("corrupt JPEG data: ") + err_.message);
  return out;
}

std::string encode_jpeg(const Pixels& pixels, int quality) {
  jpeg_compress_struct cinfo{};
  JpegDecoder::ErrorManager err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  install(err);
  cinfo.err = &err.pub;
  jpeg_create_compress(&cinfo);
  if (setjmp(err.jump)) {
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
