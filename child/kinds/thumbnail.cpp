// thumbnail: one image file in, "<stem>_thumbnail<ext>" out, fitted within a box with its
// aspect ratio kept, as Pillow's Image.thumbnail does.
//
// Speed comes from JPEG shrink-on-load: libjpeg decodes at M/8 scale (the smallest that
// still covers the target), so a 12 MP photo is never decoded in full; the remaining <2x
// reduction uses a triangle filter. JPEGs (grey, YCbCr) take a direct libjpeg path
// (jpeg_codec.hpp); every other format goes through Magick++ with the same hint.
// The file is written under a temporary name in the output folder and renamed into place,
// so a reader never sees half a thumbnail and a failure leaves nothing behind.
#include <Magick++.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/jpeg_codec.hpp"
#include "child/kinds/kinds.hpp"
#include "child/kinds/thumbnail_geometry.hpp"

namespace procpool::kinds {

namespace {

struct ThumbnailSettings {
  Size box{128, 128};
  std::string out_dir;  // empty: beside each source
  int quality = 75;     // Pillow's JPEG default
  uint64_t max_file_bytes = 256ull << 20;  // larger inputs are an error, not a read
};

ThumbnailSettings parse_settings(const KindOptions& options) {
  ThumbnailSettings s;
  const std::string size = options.get("size", "128x128");
  const auto box = parse_size(size);
  if (!box) throw std::invalid_argument("--size must be WIDTHxHEIGHT with sides 1..16384, not '" + size + "'");
  s.box = *box;
  s.out_dir = options.get("out", "");
  s.quality = static_cast<int>(options.get_int("quality", 75, 1, 100));
  s.max_file_bytes = static_cast<uint64_t>(options.get_int("max-file-mb", 256, 1, 65536)) << 20;
  return s;
}

class ThumbnailKind final : public TaskKind {
 public:
  explicit ThumbnailKind(ThumbnailSettings settings) : settings_(std::move(settings)) {}

  void start() override {
    // Keep freed image buffers in the heap for the next image: fresh mmap'd pages cost a
    // page fault each, which on this project's VMs was a fifth of the per-image time.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (!settings_.out_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(settings_.out_dir, ec);
      if (ec) throw std::runtime_error("cannot create output folder " + settings_.out_dir + ": " + ec.message());
    }
  }

  void run(std::string_view input, TaskOutput& out) override {
    const std::string source(input);
    std::string bytes;
    if (!read_file(source, bytes, out)) return;
    const std::string dest = thumbnail_path(source, settings_.out_dir);
    Size target;
    if (looks_like_jpeg(bytes)) {
      try {
        JpegDecoder decoder(bytes);
        if (decoder.supported()) {
          if (!within_limits(source, decoder.size(), out)) return;
          target = fit_within(decoder.size(), settings_.box);
          Pixels decoded = decoder.decode(target);
          Pixels scaled;
          if (decoded.width != target.width || decoded.height != target.height) {
            downscale_triangle(decoded, target, scaled);
          }
          const Pixels& final_pixels = scaled.data.empty() ? decoded : scaled;
          write_bytes_atomically(dest, encode_jpeg(final_pixels, settings_.quality));
          return succeed(out, dest, target);
        }
      } catch (const JpegError& e) {
        return out.fail(source + ": corrupt image: " + e.what());
      }
    }
    start_magick();
    Magick::Image image;
    if (!read_with_magick(source, bytes, image, out)) return;
    const Size original{static_cast<uint32_t>(image.baseColumns()), static_cast<uint32_t>(image.baseRows())};
    if (!within_limits(source, original, out)) return;
    const Size loaded{static_cast<uint32_t>(image.columns()), static_cast<uint32_t>(image.rows())};
    target = fit_within(original, settings_.box);
    if (!(target == loaded)) {
      image.filterType(Magick::TriangleFilter);
      Magick::Geometry geometry(target.width, target.height);
      geometry.aspect(true);  // exactly target: its aspect was chosen by fit_within
      image.resize(geometry);
    }
    image.strip();
    image.quality(static_cast<size_t>(settings_.quality));
    write_magick_atomically(image, dest);
    succeed(out, dest, target);
  }

 private:
  static void succeed(TaskOutput& out, const std::string& dest, Size size) {
    out.output_is_json = true;
    out.data = nlohmann::json{{"path", dest}, {"width", size.width}, {"height", size.height}}.dump();
  }

  // The whole file, up to max_file_bytes: decoders then never touch the filesystem.
  bool read_file(const std::string& source, std::string& bytes, TaskOutput& out) const {
    const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      out.fail(source + ": " + (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
      return false;
    }
    struct stat st{};
    bool ok = fstat(fd, &st) == 0;
    if (ok && !S_ISREG(st.st_mode)) {
      out.fail(source + ": not a regular file");
    } else if (ok && static_cast<uint64_t>(st.st_size) > settings_.max_file_bytes) {
      out.fail(source + ": " + std::to_string(st.st_size) + " bytes is over the limit of " +
               std::to_string(settings_.max_file_bytes >> 20) + " MiB");
    } else if (ok) {
      bytes.resize(static_cast<size_t>(st.st_size));
      size_t got = 0;
      while (got < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      bytes.resize(got);
      if (bytes.empty()) out.fail(source + ": empty file");
    } else {
      out.fail(source + ": " + std::strerror(errno));
    }
    ::close(fd);
    return out.ok;
  }

  static bool within_limits(const std::string& source, Size size, TaskOutput& out) {
    if (size.width == 0 || size.height == 0) {
      out.fail(source + ": image has no pixels");
    } else if (size.width > kMaxSide || size.height > kMaxSide ||
               uint64_t{size.width} * size.height > kMaxPixels) {
      out.fail(source + ": " + std::to_string(size.width) + "x" + std::to_string(size.height) +
               " is over the limit of " + std::to_string(kMaxSide) + " pixels a side and " +
               std::to_string(kMaxPixels / 1'000'000) + " megapixels");
    }
    return out.ok;
  }

  // Magick reads its configuration files when initialised (~10 ms): only children that
  // meet a non-JPEG pay for it.
  void start_magick() {
    if (magick_started_) return;
    Magick::InitializeMagick(nullptr);
    // Limits in code, not left to the system policy: a decompression bomb fails fast
    // instead of spilling gigabytes to a disk cache.
    Magick::ResourceLimits::thread(1);  // one core per child; the pool is the parallelism
    Magick::ResourceLimits::width(kMaxSide);
    Magick::ResourceLimits::height(kMaxSide);
    Magick::ResourceLimits::area(kMaxPixels);
    Magick::ResourceLimits::memory(512ull << 20);
    Magick::ResourceLimits::map(512ull << 20);
    Magick::ResourceLimits::disk(0);
    magick_started_ = true;
  }

  bool read_with_magick(const std::string& source, const std::string& bytes, Magick::Image& image,
                        TaskOutput& out) {
    const std::string hint = std::to_string(settings_.box.width) + "x" + std::to_string(settings_.box.height);
    image.defineValue("jpeg", "size", hint);
    image.subRange(1);  // only the first frame of an animation
    try {
      image.read(Magick::Blob(bytes.data(), bytes.size()));
    } catch (const Magick::WarningCorruptImage& w) {
      out.fail(source + ": corrupt image: " + w.what());
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

  // A hidden temporary beside the destination (same filesystem, so rename is atomic); it
  // keeps the extension so Magick picks the same format.
  std::string temp_path_for(const std::string& dest) {
    const std::filesystem::path d(dest);
    return (d.parent_path() / ("." + d.stem().string() + "." + std::to_string(getpid()) + "." +
                               std::to_string(counter_++) + ".tmp" + d.extension().string()))
        .string();
  }

  static void commit(const std::string& tmp, const std::string& dest) {
    if (std::rename(tmp.c_str(), dest.c_str()) != 0) {
      const int err = errno;
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot rename " + tmp + " to " + dest + ": " + std::strerror(err));
    }
  }

  void write_bytes_atomically(const std::string& dest, const std::string& bytes) {
    const std::string tmp = temp_path_for(dest);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    const bool ok = done == bytes.size() && ::close(fd) == 0;
    if (!ok) {
      const int err = errno;
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(err));
    }
    commit(tmp, dest);
  }

  void write_magick_atomically(Magick::Image& image, const std::string& dest) {
    const std::string tmp = temp_path_for(dest);
    try {
      image.write(tmp);
    } catch (const Magick::Warning&) {
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
    commit(tmp, dest);
  }

  static constexpr uint32_t kMaxSide = 16384;
  static constexpr uint64_t kMaxPixels = 128'000'000;
  ThumbnailSettings settings_;
  uint64_t counter_ = 0;
  bool magick_started_ = false;
};

}  // namespace

void register_thumbnail_kind(KindRegistry& registry) {
  registry.add({"thumbnail", "fits an image file within --size (default 128x128) as <stem>_thumbnail<ext>",
                [](const KindOptions& options) { return std::make_unique<ThumbnailKind>(parse_settings(options)); }});
}

}  // namespace procpool::kinds
