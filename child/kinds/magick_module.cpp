// procpool_magick.so: see magick_module.hpp.
#include "child/kinds/magick_module.hpp"

#include <Magick++.h>

#include <cstdio>
#include <string>

#include "child/kinds/thumbnail_geometry.hpp"

namespace {

void start_magick(const PpMagickRequest& r) {
  static bool started = false;
  if (started) return;
  Magick::InitializeMagick(nullptr);
  // Limits in code, not left to the system policy: a decompression bomb fails fast
  // instead of spilling gigabytes to a disk cache.
  Magick::ResourceLimits::thread(1);  // one core per child; the pool is the parallelism
  Magick::ResourceLimits::width(r.max_side);
  Magick::ResourceLimits::height(r.max_side);
  Magick::ResourceLimits::area(r.max_pixels);
  Magick::ResourceLimits::memory(512ull << 20);
  Magick::ResourceLimits::map(512ull << 20);
  Magick::ResourceLimits::disk(0);
  started = true;
}

// ImageMagick's what() for a person: without the client name it starts with and the
// " @ error/blob.c/PingBlob/3108" source location it ends with, and an unknown format
// said as such ("no decode delegate for this image format `'").
std::string plain(const std::string& what) {
  std::string text = what;
  if (const auto at = text.find(" @ "); at != std::string::npos) text.erase(at);
  if (const auto colon = text.find(": "); colon != std::string::npos && text.compare(0, colon, "procpool") == 0)
    text.erase(0, colon + 2);
  if (text.find("no decode delegate") != std::string::npos) return "not an image, or in a format not supported";
  return text;
}

int fail(PpMagickResult* result, const std::string& message) {
  std::snprintf(result->error, sizeof result->error, "%s", message.c_str());
  return 1;
}

}  // namespace

extern "C" int procpool_magick_thumbnail(const PpMagickRequest* r, PpMagickResult* result) {
  using procpool::kinds::Size;
  try {
    start_magick(*r);
    {
      // The header first: a decompression bomb is refused by its declared size, before
      // any pixel is decoded.
      Magick::Image header;
      header.subRange(1);
      std::string warning;
      try {
        header.ping(Magick::Blob(r->data, r->size));
      } catch (const Magick::Warning& w) {
        warning = w.what();  // Magick reports its own resource limits as warnings
      }
      const uint64_t w = header.columns(), h = header.rows();
      // Magick refuses an image over its limits before reporting its size ("No image was
      // loaded"): name the limits, which is the likely cause, with the other two.
      if ((w == 0 || h == 0) && !warning.empty())
        return fail(result, "cannot read image: corrupt, unsupported, or over the limit of " +
                                std::to_string(r->max_side) + " pixels a side and " +
                                std::to_string(r->max_pixels / 1'000'000) + " megapixels (" + warning + ")");
      if (w > r->max_side || h > r->max_side || w * h > r->max_pixels)
        return fail(result, std::to_string(w) + "x" + std::to_string(h) + " is over the limit of " +
                                std::to_string(r->max_side) + " pixels a side and " +
                                std::to_string(r->max_pixels / 1'000'000) + " megapixels");
    }
    Magick::Image image;
    image.defineValue("jpeg", "size", std::to_string(r->box_width) + "x" + std::to_string(r->box_height));
    image.subRange(1);  // only the first frame of an animation
    try {
      image.read(Magick::Blob(r->data, r->size));
    } catch (const Magick::WarningCorruptImage& w) {
      return fail(result, "corrupt image: " + plain(w.what()));
    } catch (const Magick::Warning&) {
      // Harmless (an unknown EXIF tag, say): the image was read.
    }
    const Size original{static_cast<uint32_t>(image.baseColumns()), static_cast<uint32_t>(image.baseRows())};
    if (image.columns() == 0 || image.rows() == 0 || original.width == 0 || original.height == 0)
      return fail(result, "image has no pixels");
    if (original.width > r->max_side || original.height > r->max_side ||
        uint64_t{original.width} * original.height > r->max_pixels)
      return fail(result, std::to_string(original.width) + "x" + std::to_string(original.height) +
                              " is over the size limit");
    const Size target = procpool::kinds::fit_within(original, {r->box_width, r->box_height});
    if (image.columns() != target.width || image.rows() != target.height) {
      image.filterType(Magick::TriangleFilter);
      Magick::Geometry geometry(target.width, target.height);
      geometry.aspect(true);  // exactly target: its aspect was chosen by fit_within
      image.resize(geometry);
    }
    image.strip();
    image.quality(static_cast<size_t>(r->quality));
    try {
      image.write(r->dest);
    } catch (const Magick::Warning&) {
    }
    result->width = target.width;
    result->height = target.height;
    return 0;
  } catch (const Magick::Exception& e) {
    return fail(result, "cannot read image: " + plain(e.what()));
  } catch (const std::exception& e) {
    return fail(result, e.what());
  } catch (...) {
    return fail(result, "unknown error in Magick");
  }
}
