// The download kind: its options, and the AsyncTaskKind the worker drives. The transfers
// themselves run in procpool_http.so (download_engine.cpp), loaded when a worker starts
// the kind, so that workers of other kinds never load libcurl.
#include <algorithm>
#include <cstdio>

#include "child/kinds/file_io.hpp"
#include "child/kinds/http_loader.hpp"
#include "child/kinds/links.hpp"
#include "child/kinds/media_types.hpp"
#include "child/task_api.hpp"

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
  std::string out = without_trailing_slashes(options.get("out", ""));
  s.out_dir = out.empty() ? std::string(".") : std::move(out);
  s.accept = split_list(options.get("accept", ""));
  s.limits = http_limits_from(options);
  s.concurrency = static_cast<uint32_t>(options.integer("concurrency"));
  s.overwrite = options.flag("overwrite");
  return s;
}

// --links-from URL: the listing's links become inputs, fetched with the download's limits
// and headers (the listing of an API usually needs the same Authorization).
std::vector<std::string> add_listed_links(std::vector<std::string> inputs, const KindOptions& options) {
  const std::string from = options.get("links-from", "");
  if (from.empty()) return inputs;
  HttpLimits limits = http_limits_from(options);
  limits.max_bytes = std::min<int64_t>(limits.max_bytes, int64_t{64} << 20);  // a listing, not a video
  std::string body;
  const std::string error = http_api().fetch_to_memory(from, limits, &body);
  if (!error.empty()) throw std::runtime_error("cannot fetch the listing " + from + ": " + error);
  LinkQuery query;
  query.path = options.get("links-path", query.path);
  query.type_field = options.get("links-type-field", query.type_field);
  query.accept = split_list(options.get("accept", ""));
  Links links;
  try {
    links = extract_links(body, query);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(from + ": " + e.what());
  }
  std::fprintf(stderr, "procpool: %zu links in the listing", links.urls.size());
  if (links.filtered != 0) std::fprintf(stderr, ", %zu of other types skipped", links.filtered);
  if (links.invalid != 0) std::fprintf(stderr, ", %zu that are not strings skipped", links.invalid);
  std::fprintf(stderr, "\n");
  inputs.insert(inputs.end(), links.urls.begin(), links.urls.end());
  return inputs;
}

std::vector<OptionSpec> download_options() {
  std::vector<OptionSpec> options{
      opt::text("out", "", "save into DIR (created if missing; default: the current folder)", "DIR")
          .a_local_path(),
      opt::text("accept", "",
                "keep only these content types, e.g. image/jpeg,image/png or image/* (others are an error "
                "naming the type; default: any)",
                "TYPES"),
      opt::integer("concurrency", "32", 1, 1024, "transfers in flight per worker"),
      opt::boolean("overwrite", false, "replace existing files (default: a new name, NAME-1.EXT, ...)"),
      opt::text("links-from", "",
                "fetch the JSON listing at URL first (with --header) and download its links, e.g. an Imgur "
                "gallery's https://api.imgur.com/3/gallery/ID",
                "URL")
          .run_side(),
      opt::text("links-path", "data[].link", "where the listing's links are", "PATH").run_side(),
      opt::text("links-type-field", "type", "the field beside each link naming its type, checked against accept",
                "FIELD")
          .run_side(),
  };
  for (OptionSpec& limit : http_limit_options("1G")) options.push_back(std::move(limit));
  return options;
}

}  // namespace

void register_download_kind(KindRegistry& registry) {
  KindHooks hooks;
  hooks.expand_inputs = [](std::vector<std::string> inputs, const KindOptions& options, unsigned) {
    return add_listed_links(std::move(inputs), options);
  };
  hooks.expands_each_input = [](const KindOptions& options) { return options.get("links-from", "").empty(); };
  hooks.check_before_run = [](const KindOptions& options) {
    const std::string problem = prepare_output_folder(parse_settings(options).out_dir);
    if (!problem.empty()) throw std::invalid_argument("--out: " + problem);
  };
  registry.add({"download", "fetch URLs into --out DIR, many at once per worker (libcurl)",
                [](const KindOptions& options) {
                  return std::make_unique<DownloadKind>(parse_settings(options), options.has("out"));
                },
                download_options(), std::move(hooks)});
}

}  // namespace procpool::kinds
