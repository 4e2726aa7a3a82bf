// The download kind: its options, and the AsyncTaskKind the worker drives. The transfers
// themselves run in procpool_http.so (download_engine.cpp), loaded when a worker starts
// the kind, so that workers of other kinds never load libcurl.
#include "child/kinds/http_loader.hpp"
#include "child/kinds/kinds.hpp"
#include "child/kinds/media_types.hpp"

namespace procpool::kinds {

namespace {

class DownloadKind final : public AsyncTaskKind {
 public:
  DownloadKind(DownloadSettings settings, bool start_early) : settings_(std::move(settings)), start_early_(start_early) {}
  uint32_t concurrency() const override { return settings_.concurrency; }
  // With an output folder given, a worker loads libcurl and checks the folder at start,
  // so a bad folder stops the run at once. Otherwise (a C++ pool defines every built-in
  // kind in every worker) nothing is loaded until the first download.
  void start() override {
    if (start_early_) engine();
  }
  void begin(uint64_t token, std::string url) override { engine().begin(token, std::move(url)); }
  void poll(int wake_fd, int timeout_ms, const Finished& finished) override {
    engine_->poll(wake_fd, timeout_ms, finished);
  }
  std::size_t running() const override { return engine_ ? engine_->running() : 0; }

 private:
  DownloadEngine& engine() {
    if (!engine_) {
      auto engine = http_api().make_download_engine(settings_);
      engine->start();  // throws for an unusable folder: that task's error, tried again next task
      engine_ = std::move(engine);
    }
    return *engine_;
  }

  DownloadSettings settings_;
  bool start_early_;
  std::unique_ptr<DownloadEngine> engine_;
};

// Cheap and without libcurl: the command line calls it to check options.
DownloadSettings parse_settings(const KindOptions& options) {
  DownloadSettings s;
  std::string out = options.get("out", "");
  s.out_dir = out.empty() ? std::string(".") : std::move(out);
  s.accept = split_list(options.get("accept", ""));
  s.limits = http_limits_from(options);
  s.concurrency = static_cast<uint32_t>(options.get_int("concurrency", 32, 1, 1024));
  s.overwrite = options.get("overwrite", "no") == "yes";
  return s;
}

}  // namespace

void register_download_kind(KindRegistry& registry) {
  registry.add({"download", "fetch URLs into --out DIR, many at once per worker (libcurl)",
                [](const KindOptions& options) {
                  return std::make_unique<DownloadKind>(parse_settings(options), options.has("out"));
                }});
}

}  // namespace procpool::kinds
