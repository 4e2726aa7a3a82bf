// The tutorials' download example with the C++ API: every URL of a file fetched into an
// output folder by the built-in download kind, many transfers in flight per worker, and
// as each image lands, a thumbnail of it: downloads and thumbnails overlap in one pool.
//   downloads URL_FILE OUT
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "procpool/pool.hpp"

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: downloads URL_FILE OUT\n");
    return 2;
  }
  std::vector<std::string> urls;
  std::ifstream file(argv[1]);
  for (std::string line; std::getline(file, line);)
    if (!line.empty()) urls.push_back(line);

  procpool::Options options;
  options.kind_options["download"].set("out", argv[2]);
  options.kind_options["download"].set("accept", "image/jpeg,image/png");
  options.kind_options["download"].set("concurrency", "32");  // transfers in flight per worker
  procpool::Pool pool(options);

  std::vector<procpool::TaskFuture> thumbnails;
  int downloaded = 0;
  for (const procpool::Result& r : pool.map_unordered("download", urls)) {
    if (!r.ok()) {
      std::fprintf(stderr, "%s: %s\n", urls[r.index].c_str(), r.error.c_str());
      continue;
    }
    ++downloaded;
    const auto saved = r.value<nlohmann::json>();  // {"path", "bytes", "http_status", ...}
    thumbnails.push_back(pool.submit("thumbnail", saved["path"].get<std::string>()));
  }
  int thumbnailed = 0;
  for (procpool::TaskFuture& f : thumbnails) thumbnailed += f.get().ok() ? 1 : 0;
  std::printf("%d of %zu URLs downloaded into %s, %d thumbnails\n", downloaded, urls.size(), argv[2], thumbnailed);
  return downloaded == static_cast<int>(urls.size()) && thumbnailed == downloaded ? 0 : 1;
}
