// wordcount: the tutorials' text workload. Each task counts one book's words (a file or
// a URL); `run` merges the counts and prints the most frequent (reduce.hpp).
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/file_io.hpp"
#include "child/kinds/http_limits.hpp"
#include "child/kinds/http_loader.hpp"
#include "child/kinds/reduce.hpp"
#include "child/kinds/text.hpp"
#include "child/task_api.hpp"

namespace procpool::kinds {

namespace {

// Input: a text file's path. Output: {"word": count, ...} as JSON.
// A text file, or a URL (http/https) fetched into memory with the download limits.
class WordCountKind final : public TaskKind {
 public:
  WordCountKind(uint64_t max_bytes, HttpLimits limits) : max_bytes_(max_bytes), limits_(std::move(limits)) {}
  void run(std::string_view input, TaskOutput& out) override {
    const std::string path(input);
    std::string text;
    if (is_http_address(path)) {
      const std::string problem = http_api().fetch_to_memory(path, limits_, &text);  // throws if no module
      if (!problem.empty()) return out.fail(path + ": " + problem);
    } else {
      const std::string problem = read_file_limited(path, max_bytes_, &text);
      if (!problem.empty() && problem != "empty file") return out.fail(path + ": " + problem);
    }
    const auto counts = count_words(text);
    if (!counts) return out.fail(path + ": not UTF-8 text");
    out.output_is_json = true;
    out.data = nlohmann::json(*counts).dump();
  }

 private:
  uint64_t max_bytes_;
  HttpLimits limits_;
};

}  // namespace

void register_wordcount_kind(KindRegistry& registry) {
  KindHooks word_hooks;
  word_hooks.reducer = [](const KindOptions& options) {
    return word_merge(static_cast<unsigned>(options.integer("top")));
  };
  word_hooks.local_path = [](std::string_view input) { return !is_http_address(input); };
  std::vector<OptionSpec> word_options{
      opt::integer("top", "10", 0, 1000000, "print the N most frequent words").run_side(),
      opt::integer("max-file-mb", "256", 1, 65536, "larger text files are an error, not read"),
  };
  for (OptionSpec& limit : http_limit_options("256M")) word_options.push_back(std::move(limit));
  registry.add({"wordcount", "counts the words of a UTF-8 text file or URL (run: merges them, --top N)",
                [](const KindOptions& o) {
                  const auto max_bytes = static_cast<uint64_t>(o.integer("max-file-mb")) << 20;
                  return std::make_unique<WordCountKind>(max_bytes, http_limits_from(o));
                },
                std::move(word_options), std::move(word_hooks)});
}

}  // namespace procpool::kinds
