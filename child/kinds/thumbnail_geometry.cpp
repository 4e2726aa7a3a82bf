#include "child/kinds/thumbnail_geometry.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>

namespace procpool::kinds {

std::optional<Size> parse_size(std::string_view text) {
  const auto x = text.find_first_of("xX");
  if (x == std::string_view::npos) return std::nullopt;
  auto side = [](std::string_view s) -> std::optional<uint32_t> {
    uint32_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 16384)
      return std::nullopt;
    return v;
  };
  const auto w = side(text.substr(0, x));
  const auto h = side(text.substr(x + 1));
  if (!w || !h) return std::nullopt;
  return Size{*w, *h};
}

Size fit_within(Size source, Size box) {
  if (source.width <= box.width && source.height <= box.height) return source;
  const double aspect = static_cast<double>(source.width) / source.height;
  // Of floor(n) and ceil(n), the one whose ratio error is smaller; never below 1.
  auto nearest = [](double n, auto error) {
    const double lo = std::floor(n), hi = std::ceil(n);
    return static_cast<uint32_t>(std::max(error(hi) < error(lo) ? hi : lo, 1.0));
  };
  Size out = box;
  if (static_cast<double>(box.width) / box.height >= aspect) {
    out.width = nearest(box.height * aspect,
                        [&](double w) { return std::abs(aspect - w / box.height); });
  } else {
    out.height = nearest(box.width / aspect, [&](double h) {
      return h == 0 ? 0.0 : std::abs(aspect - box.width / h);
    });
  }
  return out;
}

std::string thumbnail_path(const std::string& source, const std::string& out_dir) {
  const std::filesystem::path src(source);
  const std::filesystem::path dir = out_dir.empty() ? src.parent_path() : std::filesystem::path(out_dir);
  std::string name = src.stem().string() + "_thumbnail" + src.extension().string();
  return (dir / name).string();
}

}  // namespace procpool::kinds
