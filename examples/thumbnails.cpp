// The tutorials' thumbnail example with the C++ API: every image of a folder fitted
// within 128x128 as <stem>_thumbnail<ext> in an output folder, by the built-in kind.
//   thumbnails PHOTOS OUT
#include <cstdio>
#include <filesystem>

#include "procpool/pool.hpp"

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: thumbnails PHOTOS OUT\n");
    return 2;
  }
  std::vector<std::string> photos;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1]))
    if (entry.is_regular_file() && entry.path().string().find("_thumbnail") == std::string::npos)
      photos.push_back(entry.path().string());

  procpool::Options options;
  options.kind_options["thumbnail"].set("size", "128x128");
  options.kind_options["thumbnail"].set("out", argv[2]);
  procpool::Pool pool(options);
  int ok = 0;
  for (const procpool::Result& r : pool.map_unordered("thumbnail", photos)) {
    if (r.ok()) ++ok;
    else std::fprintf(stderr, "%s: %s\n", photos[r.index].c_str(), r.error.c_str());
  }
  std::printf("%d of %zu photos thumbnailed into %s\n", ok, photos.size(), argv[2]);
  return ok == static_cast<int>(photos.size()) ? 0 : 1;
}
