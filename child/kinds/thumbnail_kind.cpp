// thumbnail: one image file in, "<stem>_thumbnail<ext>" out, fitted within a box with its
// aspect ratio kept, as Pillow's Image.thumbnail does.
//
// Speed comes from JPEG shrink-on-load: libjpeg decodes at M/8 scale (the smallest that
// still covers the target), so a 12 MP photo is never decoded in full; the remaining <2x
// reduction uses a triangle filter. JPEGs (grey, YCbCr) take this direct libjpeg path
// (jpeg_codec.hpp); every other format goes through Magick++ in a module loaded on
// first use (magick_module.hpp). The output appears all at once (file_io.hpp) or not at all.
#include <malloc.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/file_io.hpp"
#include "child/kinds/file_mode.hpp"
#include "child/kinds/image_folders.hpp"
#include "child/kinds/jpeg_codec.hpp"
#include "child/kinds/magick_loader.hpp"
#include "child/kinds/thumbnail_geometry.hpp"
#include "child/task_api.hpp"

namespace procpool::kinds {

namespace {

constexpr uint32_t kMaxSide = 16384;
constexpr uint64_t kMaxPixels = 128'000'000;

struct ThumbnailSettings {
  Size box{128, 128};
  std::string out_dir;  // empty: beside each source
  int quality = 75;     // Pillow's JPEG default
  uint64_t max_file_bytes = 256ull << 20;  // larger inputs are an error, not a read
  bool overwrite = false;  // else an existing output file is a task error, left as it is
};

// Options checked against the schema below; what it cannot say about "size" is said here.
ThumbnailSettings parse_settings(const KindOptions& options) {
  ThumbnailSettings s;
  const std::string size = options.get("size", "");
  const auto box = parse_size(size);
  if (!box)
    throw std::invalid_argument("thumbnail option 'size' must be WIDTHxHEIGHT with sides 1..16384, not '" + size + "'");
  s.box = *box;
  s.out_dir = without_trailing_slashes(options.get("out", ""));
  s.quality = static_cast<int>(options.integer("quality"));
  s.max_file_bytes = static_cast<uint64_t>(options.integer("max-file-mb")) << 20;
  s.overwrite = options.flag("overwrite");
  return s;
}

// Empty when size is acceptable, else why not.
std::string check_limits(Size size) {
  if (size.width == 0 || size.height == 0) return "image has no pixels";
  if (size.width > kMaxSide || size.height > kMaxSide || uint64_t{size.width} * size.height > kMaxPixels)
    return std::to_string(size.width) + "x" + std::to_string(size.height) + " is over the limit of " +
           std::to_string(kMaxSide) + " pixels a side and " + std::to_string(kMaxPixels / 1'000'000) + " megapixels";
  return "";
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
      const std::string problem = prepare_output_folder(settings_.out_dir);
      if (!problem.empty()) throw std::runtime_error(problem);
    }
  }

  void run(std::string_view input, TaskOutput& out) override {
    const std::string source(input);
    std::string bytes;
    const std::string problem = read_file_limited(source, settings_.max_file_bytes, &bytes);
    if (!problem.empty()) return out.fail(source + ": " + problem);
    const std::string dest = thumbnail_path(source, settings_.out_dir);
    struct stat st{};
    // Early, to spare the work; the final rename refuses an existing name atomically.
    if (!settings_.overwrite && lstat(dest.c_str(), &st) == 0)
      return out.fail(source + ": " + dest + " exists (--overwrite replaces it)");
    try {
      make(source, bytes, dest, out);
    } catch (const FileExists& e) {
      out.fail(source + ": " + e.what());
    }
  }

 private:
  void make(const std::string& source, const std::string& bytes, const std::string& dest, TaskOutput& out) {
    if (looks_like_jpeg(bytes)) {
      try {
        JpegDecoder decoder(bytes);
        if (decoder.supported()) {
          const std::string too_big = check_limits(decoder.size());
          if (!too_big.empty()) return out.fail(source + ": " + too_big);
          const Size target = fit_within(decoder.size(), settings_.box);
          Pixels pixels = decoder.decode(target);
          if (pixels.width != target.width || pixels.height != target.height) {
            Pixels scaled;
            downscale_triangle(pixels, target, scaled);
            pixels = std::move(scaled);
          }
          write_file_atomically(dest, encode_jpeg(pixels, settings_.quality), settings_.overwrite);
          return succeed(out, dest, target);
        }
      } catch (const JpegError& e) {
        return out.fail(source + ": corrupt image: " + e.what());
      }
    }
    run_with_magick(source, bytes, dest, out);
  }

  void run_with_magick(const std::string& source, const std::string& bytes, const std::string& dest,
                       TaskOutput& out) {
    std::string load_error;
    const PpMagickThumbnailFn thumbnail = load_magick_module(&load_error);
    if (thumbnail == nullptr) return out.fail(source + ": " + load_error);
    const std::string tmp = temp_path_beside(dest);
    const PpMagickRequest request{bytes.data(), bytes.size(), tmp.c_str(), settings_.box.width,
                                  settings_.box.height, settings_.quality, kMaxSide, kMaxPixels};
    PpMagickResult result{};
    if (thumbnail(&request, &result) != 0) {
      std::remove(tmp.c_str());
      return out.fail(source + ": " + result.error);
    }
    ::chmod(tmp.c_str(), output_file_mode());  // ImageMagick's file: the same mode as the JPEG path's
    commit_temp(tmp, dest, settings_.overwrite);
    succeed(out, dest, {result.width, result.height});
  }

  static void succeed(TaskOutput& out, const std::string& dest, Size size) {
    out.output_is_json = true;
    out.data = nlohmann::json{{"path", dest}, {"width", size.width}, {"height", size.height}}.dump();
  }

  ThumbnailSettings settings_;
};

}  // namespace

void register_thumbnail_kind(KindRegistry& registry) {
  KindHooks hooks;
  hooks.expand_inputs = [](const std::vector<std::string>& inputs, const KindOptions&, unsigned) {
    return expand_image_folders(inputs);
  };
  hooks.check_before_run = [](const KindOptions& options) {
    const std::string out = options.get("out", "");
    const std::string problem = out.empty() ? "" : prepare_output_folder(out);
    if (!problem.empty()) throw std::invalid_argument("--out: " + problem);
  };
  hooks.expands_each_input = [](const KindOptions&) { return true; };
  hooks.own_output = [](std::string_view input) { return is_thumbnail_name(std::filesystem::path(input)); };
  hooks.local_path = [](std::string_view) { return true; };
  hooks.inputs_hint = ", or a folder with images in it";
  registry.add({"thumbnail", "fits an image file within --size (default 128x128) as <stem>_thumbnail<ext>",
                [](const KindOptions& options) { return std::make_unique<ThumbnailKind>(parse_settings(options)); },
                {opt::text("size", "128x128", "fit within WIDTHxHEIGHT", "WxH"),
                 opt::text("out", "", "write into folder DIR (default: beside each image)", "DIR").a_local_path(),
                 opt::integer("quality", "75", 1, 100, "JPEG/WebP quality"),
                 opt::boolean("overwrite", false,
                              "replace existing thumbnails (else each is a task error, and the file stays)"),
                 opt::integer("max-file-mb", "256", 1, 65536, "larger image files are an error, not read")},
                std::move(hooks)});
}

}  // namespace procpool::kinds
