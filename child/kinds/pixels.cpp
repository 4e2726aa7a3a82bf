#include "child/kinds/pixels.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace procpool::kinds {

namespace {

// For each output index along one axis: the first source index and the weights (in 1/2^14
// units, summing to exactly 2^14) of the source samples it averages.
struct Taps {
  std::vector<uint32_t> first;
  std::vector<uint32_t> count;
  std::vector<int32_t> weights;  // count[i] entries per output, packed, at offset[i]
  std::vector<uint32_t> offset;
};

constexpr int kShift = 14;

Taps make_taps(uint32_t in_size, uint32_t out_size) {
  Taps t;
  const double scale = static_cast<double>(in_size) / out_size;  // >= 1
  const double support = std::max(1.0, scale);                  // triangle half-width in source pixels
  std::vector<double> w;
  for (uint32_t i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(std::floor(center - support)));
    const int hi = std::min(static_cast<int>(in_size), static_cast<int>(std::ceil(center + support)));
    w.clear();
    double sum = 0;
    for (int s = lo; s < hi; ++s) {
      const double d = std::abs((s + 0.5) - center) / support;
      const double v = d < 1 ? 1 - d : 0;
      w.push_back(v);
      sum += v;
    }
    if (sum <= 0) {  // cannot happen for scale >= 1, kept for safety
      w.assign(w.size(), 0);
      w[0] = sum = 1;
    }
    t.first.push_back(static_cast<uint32_t>(lo));
    t.count.push_back(static_cast<uint32_t>(w.size()));
    t.offset.push_back(static_cast<uint32_t>(t.weights.size()));
    int32_t total = 0;
    for (double v : w) {
      const auto q = static_cast<int32_t>(std::lround(v / sum * (1 << kShift)));
      t.weights.push_back(q);
      total += q;
    }
    // Rounding leaves the sum a little off 2^14: give the remainder to the largest tap.
    auto biggest = std::max_element(t.weights.begin() + t.offset.back(), t.weights.end());
    *biggest += (1 << kShift) - total;
  }
  return t;
}

uint8_t clamp_pixel(int64_t acc) {
  const int64_t v = (acc + (1 << (kShift - 1))) >> kShift;
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

}  // namespace

void downscale_triangle(const Pixels& in, Size to, Pixels& out) {
  if (to.width == 0 || to.height == 0 || to.width > in.width || to.height > in.height ||
      (in.channels != 1 && in.channels != 3) || in.data.size() != size_t{in.width} * in.height * in.channels)
    throw std::invalid_argument("downscale_triangle: bad sizes");
  const uint32_t ch = in.channels;
  const Taps tx = make_taps(in.width, to.width);
  const Taps ty = make_taps(in.height, to.height);
  // Horizontal pass into a buffer of in.height rows of to.width pixels.
  std::vector<uint8_t> mid(size_t{to.width} * in.height * ch);
  for (uint32_t y = 0; y < in.height; ++y) {
    const uint8_t* row = in.data.data() + size_t{y} * in.width * ch;
    uint8_t* dst = mid.data() + size_t{y} * to.width * ch;
    for (uint32_t x = 0; x < to.width; ++x) {
      for (uint32_t c = 0; c < ch; ++c) {
        int64_t acc = 0;
        for (uint32_t k = 0; k < tx.count[x]; ++k)
          acc += int64_t{tx.weights[tx.offset[x] + k]} * row[(tx.first[x] + k) * ch + c];
        dst[x * ch + c] = clamp_pixel(acc);
      }
    }
  }
  out.width = to.width;
  out.height = to.height;
  out.channels = ch;
  out.data.assign(size_t{to.width} * to.height * ch, 0);
  const size_t stride = size_t{to.width} * ch;
  for (uint32_t y = 0; y < to.height; ++y) {
    uint8_t* dst = out.data.data() + y * stride;
    for (size_t i = 0; i < stride; ++i) {
      int64_t acc = 0;
      for (uint32_t k = 0; k < ty.count[y]; ++k)
        acc += int64_t{ty.weights[ty.offset[y] + k]} * mid[(ty.first[y] + k) * stride + i];
      dst[i] = clamp_pixel(acc);
    }
  }
}

}  // namespace procpool::kinds
