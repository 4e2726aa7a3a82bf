#include "child/kinds/thumbnail_geometry.hpp"

#include <gtest/gtest.h>

using procpool::kinds::fit_within;
using procpool::kinds::parse_size;
using procpool::kinds::Size;
using procpool::kinds::thumbnail_path;

struct FitCase {
  Size source, box, expected;
};

// Expected sizes are what Pillow 9.4's Image.thumbnail produced for the same source and box.
TEST(ThumbnailGeometry, MatchesPillowThumbnail) {
  const FitCase cases[] = {
      {{1024, 640}, {128, 128}, {128, 80}},  {{640, 1024}, {128, 128}, {80, 128}},
      {{1600, 1203}, {128, 128}, {128, 96}}, {{1000, 1000}, {128, 128}, {128, 128}},
      {{129, 128}, {128, 128}, {128, 127}},  {{128, 129}, {128, 128}, {127, 128}},
      {{3000, 10}, {128, 128}, {128, 1}},    {{10, 3000}, {128, 128}, {1, 128}},
      {{100, 50}, {128, 128}, {100, 50}},    {{1023, 767}, {128, 128}, {128, 96}},
      {{4032, 3024}, {128, 128}, {128, 96}}, {{333, 1000}, {128, 128}, {43, 128}},
      {{127, 129}, {128, 128}, {126, 128}},  {{1024, 640}, {200, 100}, {160, 100}},
      {{640, 1024}, {200, 100}, {62, 100}},  {{1600, 1203}, {200, 100}, {133, 100}},
      {{1000, 1000}, {200, 100}, {100, 100}}, {{129, 128}, {200, 100}, {101, 100}},
      {{128, 129}, {200, 100}, {99, 100}},   {{3000, 10}, {200, 100}, {200, 1}},
      {{10, 3000}, {200, 100}, {1, 100}},    {{100, 50}, {200, 100}, {100, 50}},
      {{1023, 767}, {200, 100}, {133, 100}}, {{4032, 3024}, {200, 100}, {133, 100}},
      {{333, 1000}, {200, 100}, {33, 100}},  {{127, 129}, {200, 100}, {98, 100}},
  };
  for (const FitCase& c : cases) {
    const Size got = fit_within(c.source, c.box);
    EXPECT_EQ(got, c.expected) << c.source.width << "x" << c.source.height << " in " << c.box.width << "x"
                               << c.box.height << " gave " << got.width << "x" << got.height;
  }
}

TEST(ThumbnailGeometry, ParsesSizes) {
  EXPECT_EQ(parse_size("128x128"), (Size{128, 128}));
  EXPECT_EQ(parse_size("64X32"), (Size{64, 32}));
  for (const char* bad : {"", "128", "x128", "128x", "0x10", "10x0", "-1x5", "12ax5", "20000x10", "5x5x5"})
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
}

TEST(ThumbnailGeometry, NamesOutputBesideSourceOrInFolder) {
  EXPECT_EQ(thumbnail_path("photos/cat.jpg", ""), "photos/cat_thumbnail.jpg");
  EXPECT_EQ(thumbnail_path("photos/cat.JPG", "out"), "out/cat_thumbnail.JPG");
  EXPECT_EQ(thumbnail_path("a.b.png", "/tmp/x"), "/tmp/x/a.b_thumbnail.png");
}
