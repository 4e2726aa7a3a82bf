#pragma once
// Thumbnail geometry, pure functions (unit-tested without images).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procpool::kinds {

struct Size {
  uint32_t width = 0;
  uint32_t height = 0;
  bool operator==(const Size&) const = default;
};

// "128x128" -> {128, 128}; each side 1..16384. nullopt when malformed.
std::optional<Size> parse_size(std::string_view text);

// The size Pillow's Image.thumbnail(box) gives: the image is never enlarged; otherwise
// the largest size within the box whose aspect ratio is nearest the source's (Pillow
// picks floor or ceil of the exact side, whichever keeps the aspect closer), at least 1.
Size fit_within(Size source, Size box);

// "<dir>/<stem>_thumbnail<ext>" for a source path; dir is the source's own folder when
// out_dir is empty.
std::string thumbnail_path(const std::string& source, const std::string& out_dir);

}  // namespace procpool::kinds
