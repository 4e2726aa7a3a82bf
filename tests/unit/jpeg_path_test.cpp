// The thumbnail kind's direct JPEG path: shrink-on-load scale choice, corrupt-data
// rejection, the triangle downscale, and an encode/decode round trip.
#include <gtest/gtest.h>

#include <cmath>

#include "child/kinds/jpeg_codec.hpp"
#include "child/kinds/pixels.hpp"

using namespace procpool::kinds;

namespace {

Pixels gradient(uint32_t w, uint32_t h, uint32_t channels) {
  Pixels p{w, h, channels, {}};
  p.data.resize(size_t{w} * h * channels);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      for (uint32_t c = 0; c < channels; ++c)
        p.data[(size_t{y} * w + x) * channels + c] = static_cast<uint8_t>((x * 255 / (w - 1) + c * 40 + y / 8) % 256);
  return p;
}

double mean(const Pixels& p) {
  double sum = 0;
  for (uint8_t v : p.data) sum += v;
  return sum / p.data.size();
}

}  // namespace

TEST(Downscale, PreservesFlatColourAndMeanBrightness) {
  Pixels flat{300, 200, 3, std::vector<uint8_t>(300 * 200 * 3, 77)};
  Pixels out;
  downscale_triangle(flat, {128, 85}, out);
  ASSERT_EQ(out.data.size(), 128u * 85 * 3);
  for (uint8_t v : out.data) ASSERT_EQ(v, 77);
  const Pixels g = gradient(640, 480, 3);
  downscale_triangle(g, {160, 120}, out);
  EXPECT_NEAR(mean(out), mean(g), 1.0);
  downscale_triangle(g, {640, 480}, out);  // same size: a copy
  EXPECT_EQ(out.data, g.data);
  EXPECT_THROW(downscale_triangle(g, {641, 10}, out), std::invalid_argument);
}

TEST(JpegPath, DecodesAtTheSmallestScaleThatCoversTheTarget) {
  const std::string jpeg = encode_jpeg(gradient(1600, 1000, 3), 90);
  ASSERT_TRUE(looks_like_jpeg(jpeg));
  {
    JpegDecoder d(jpeg);
    EXPECT_EQ(d.size(), (Size{1600, 1000}));
    EXPECT_TRUE(d.supported());
    const Pixels p = d.decode({128, 80});
    EXPECT_EQ(p.width, 200u);  // 1/8 scale: 200x125 covers 128x80
    EXPECT_EQ(p.height, 125u);
    EXPECT_EQ(p.channels, 3u);
  }
  {
    JpegDecoder d(jpeg);
    const Pixels p = d.decode({400, 250});
    EXPECT_EQ(p.width, 400u);  // 2/8
    EXPECT_EQ(p.height, 250u);
  }
  const std::string grey = encode_jpeg(gradient(333, 1000, 1), 80);
  JpegDecoder g(grey);
  const Pixels p = g.decode({43, 128});
  EXPECT_EQ(p.channels, 1u);
  EXPECT_GE(p.width, 43u);
  EXPECT_GE(p.height, 128u);
}

TEST(JpegPath, RoundTripKeepsTheImage) {
  const Pixels src = gradient(256, 160, 3);
  const std::string jpeg = encode_jpeg(src, 95);  // must outlive the decoder
  JpegDecoder d(jpeg);
  const Pixels back = d.decode({256, 160});
  ASSERT_EQ(back.data.size(), src.data.size());
  double err = 0;
  for (size_t i = 0; i < src.data.size(); ++i) err += std::abs(int{src.data[i]} - int{back.data[i]});
  EXPECT_LT(err / src.data.size(), 4.0);
}

TEST(JpegPath, TruncatedOrGarbageDataIsAnError) {
  const std::string jpeg = encode_jpeg(gradient(800, 600, 3), 90);
  const std::string truncated = jpeg.substr(0, jpeg.size() / 2);
  EXPECT_THROW(
      {
        JpegDecoder d(truncated);
        d.decode({100, 75});
      },
      JpegError);
  std::string header_only = jpeg.substr(0, 3) + std::string(50, '\x42');
  EXPECT_THROW(JpegDecoder d(header_only), JpegError);
  try {
    JpegDecoder d(truncated);
    d.decode({100, 75});
    FAIL() << "no error";
  } catch (const JpegError& e) {
    EXPECT_NE(std::string(e.what()).find("Premature end"), std::string::npos) << e.what();
  }
}

TEST(JpegPath, ProgressiveAtOneEighthSkipsTheLastScansWithIdenticalResult) {
  for (uint32_t channels : {3u, 1u}) {
    const std::string jpeg = encode_jpeg(gradient(1603, 997, channels), 85, /*progressive=*/true);
    JpegDecoder fast(jpeg);
    const Pixels a = fast.decode({128, 80});
    EXPECT_TRUE(fast.decoded_dc_only());
    // Bytes after the EOI marker make the decoder distrust the end and decode it all.
    const std::string padded = jpeg + "trailing";
    JpegDecoder full(padded);
    const Pixels b = full.decode({128, 80});
    EXPECT_FALSE(full.decoded_dc_only());
    ASSERT_EQ(a.width, b.width);
    ASSERT_EQ(a.height, b.height);
    int differ = 0, worst = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      const int d = std::abs(int{a.data[i]} - int{b.data[i]});
      differ += d != 0;
      worst = std::max(worst, d);
    }
    EXPECT_EQ(differ, 0) << "channels " << channels << ": " << differ << " of " << a.data.size()
                         << " bytes differ, by up to " << worst;
  }
}

TEST(JpegPath, TruncatedProgressiveIsStillAnError) {
  const std::string jpeg = encode_jpeg(gradient(1600, 1000, 3), 85, true);
  const std::string truncated = jpeg.substr(0, jpeg.size() * 2 / 3);
  JpegDecoder d(truncated);
  EXPECT_THROW(d.decode({128, 80}), JpegError);
}
