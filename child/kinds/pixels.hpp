#pragma once
// 8-bit images in memory, and the separable triangle-filter downscale the thumbnail kind
// uses on them (a pure function, tested without any codec).
#include <cstdint>
#include <vector>

#include "child/kinds/thumbnail_geometry.hpp"

namespace procpool::kinds {

struct Pixels {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;  // 1 (grey) or 3 (RGB)
  std::vector<uint8_t> data;  // rows top to bottom, width * channels bytes each
};

// Shrinks (or keeps) in to exactly `to` with a triangle (bilinear) filter whose support
// widens with the reduction, so every source pixel contributes (no aliasing). Each side
// of `to` must be 1..the same side of in.
void downscale_triangle(const Pixels& in, Size to, Pixels& out);

}  // namespace procpool::kinds
