// thumbnail: one image file in, "<stem>_thumbnail<ext>" out, fitted within a box with its
// aspect ratio kept, as Pillow's Image.thumbnail does.
//
// Speed comes from JPEG shrink-on-load: with the "jpeg:size" hint libjpeg decodes at
// 1/2, 1/4 or 1/8 scale (the smallest that is still >= the hint), so a 12 MP photo is
// never decoded in full. The remaining <2x reduction uses a triangle (bilinear) filter.
// The file is written under a temporary name in the output folder and renamed into place,
// so a reader never sees half a thumbnail and a failure leaves nothing behind.
#include <Magick++.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/kinds.hpp"
#include "child/kinds/thumbnail_geometry.hpp"

namespace procpool::kinds {

namespace {

struct ThumbnailSettings {
  Size box{128, 128};
  std::string out_dir;  // empty: beside each source
  int quality = 75;     // Pillow's JPEG default
};

ThumbnailSettings parse_settings(const KindOptions& options) {
  ThumbnailSettings s;
  const std::string size = options.get("size", "128x128");
  const auto box = parse_size(size);
  if (!box) throw std::invalid_argument("--size must be WIDTHxHEIGHT with sides 1..16384, not '" + size + "'");
  s.box = *box;
  s.out_dir = options.get("out", "");
  s.quality = static_cast<int>(options.get_int("quality", 75, 1, 100));
  return s;
}

class ThumbnailKind final : public TaskKind {
 public:
  explicit ThumbnailKind(ThumbnailSettings settings) : settings_(std::move(settings)) {}

  void start() override {
    Magick::InitializeMagick(nullptr);
    // Limits in code, not left to the system policy: a decompression bomb fails fast
    // instead of spilling gigabytes to a disk cache.
    Magick::ResourceLimits::thread(1);  // one core per child; the pool is the parallelism
    Magick::ResourceLimits::width(16384);
    Magick::ResourceLimits::height(16384);
    Magick::ResourceLimits::area(128ull * 1000 * 1000);
    Magick::ResourceLimits::memory(512ull << 20);
    Magick::ResourceLimits::map(512ull << 20);
    Magick::ResourceLimits::disk(0);
    if (!settings_.out_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(settings_.out_dir, ec);
      if (ec) throw std::runtime_error("cannot create output folder " + settings_.out_dir + ": " + ec.message());
    }
  }

  void run(std::string_view input, TaskOutput& out) override {
    const std::string source(input);
    Magick::Image image;
    if (!read_image(source, image, out)) return;
    const Size original{static_cast<uint32_t>(image.baseColumns()), static_cast<uint32_t>(image.baseRows())};
    const Size loaded{static_cast<uint32_t>(image.columns()), static_cast<uint32_t>(image.rows())};
    const Size target = fit_within(original, settings_.box);
    if (!(target == loaded)) {
      image.filterType(Magick::TriangleFilter);
      Magick::Geometry geometry(target.width, target.height);
      geometry.aspect(true);  // exactly target: its aspect was chosen by fit_within
      image.resize(geometry);
    }
    image.strip();
    image.quality(static_cast<size_t>(settings_.quality));
    const std::string dest = thumbnail_path(source, settings_.out_dir);
    write_atomically(image, dest);
    out.output_is_json = true;
    out.data = nlohmann::json{{"path", dest}, {"width", target.width}, {"height", target.height}}.dump();
  }

 private:
  bool read_image(const std::string& source, Magick::Image& image, TaskOutput& out) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(source, ec)) {
      out.fail(source + ": " + (std::filesystem::exists(source, ec) ? "not a regular file" : "no such file"));
      return false;
    }
    const std::string hint = std::to_string(settings_.box.width) + "x" + std::to_string(settings_.box.height);
    image.defineValue("jpeg", "size", hint);
    image.subRange(1);  // only the first frame of an animation
    try {
      image.read(source);
    } catch (const Magick::WarningCorruptImage& w) {
      out.fail(source + ": corrupt image: " + w.what());  // e.g. a truncated JPEG
      return false;
    } catch (const Magick::Warning&) {
      // Harmless (an unknown EXIF tag, say): the image was read.
    } catch (const Magick::Exception& e) {
      out.fail(source + ": cannot read image: " + e.what());
      return false;
    }
    if (image.columns() == 0 || image.rows() == 0) {
      out.fail(source + ": image has no pixels");
      return false;
    }
    return true;
  }

  void write_atomically(Magick::Image& image, const std::string& dest) {
    const std::filesystem::path d(dest);
    // A hidden temporary beside the destination (same filesystem, so rename is atomic);
    // it keeps the extension so Magick picks the same format.
    const std::string tmp = (d.parent_path() / ("." + d.stem().string() + "." + std::to_string(getpid()) + "." +
                                                std::to_string(counter_++) + ".tmp" + d.extension().string()))
                                .string();
    try {
      image.write(tmp);
    } catch (const Magick::Warning&) {
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
    if (std::rename(tmp.c_str(), dest.c_str()) != 0) {
      const int err = errno;
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot rename " + tmp + " to " + dest + ": " + std::strerror(err));
    }
  }

  ThumbnailSettings settings_;
  uint64_t counter_ = 0;
};

}  // namespace

void register_thumbnail_kind(KindRegistry& registry) {
  registry.add({"thumbnail", "fits an image file within --size (default 128x128) as <stem>_thumbnail<ext>",
                [](const KindOptions& options) { return std::make_unique<ThumbnailKind>(parse_settings(options)); }});
}

}  // namespace procpool::kinds
