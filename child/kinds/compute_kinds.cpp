// sum-squares and wordcount: the tutorials' CPU-bound and text workloads. Each task does
// one piece (a range, a file); `run` reduces the pieces with the kind's reducer (reduce.hpp).
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "child/kinds/file_io.hpp"
#include "child/kinds/http_limits.hpp"
#include "child/kinds/http_loader.hpp"
#include "child/kinds/kinds.hpp"
#include "child/kinds/reduce.hpp"
#include "child/kinds/text.hpp"

namespace procpool::kinds {

namespace {

// Input "BEGIN END": the half-open range [BEGIN, END). Output: the exact sum, in decimal.
class SumSquaresKind final : public TaskKind {
 public:
  void run(std::string_view input, TaskOutput& out) override {
    uint64_t begin = 0, end = 0;
    const auto space = input.find(' ');
    const auto parse = [](std::string_view s, uint64_t& v) {
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    };
    if (space == std::string_view::npos || !parse(input.substr(0, space), begin) ||
        !parse(input.substr(space + 1), end) || end < begin || end > kMaxSquaresEnd)
      return out.fail("sum-squares: input must be 'BEGIN END' with 0 <= BEGIN <= END <= 2^40, not '" +
                      std::string(input.substr(0, 64)) + "'");
    out.data = sum_of_squares(begin, end);
  }
};

// Input: a text file's path. Output: {"word": count, ...} as JSON.
// A text file, or a URL (http/https) fetched into memory with the download limits.
class WordCountKind final : public TaskKind {
 public:
  WordCountKind(uint64_t max_bytes, HttpLimits limits) : max_bytes_(max_bytes), limits_(std::move(limits)) {}
  void run(std::string_view input, TaskOutput& out) override {
    const std::string path(input);
    std::string text;
    if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) {
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

void register_compute_kinds(KindRegistry& registry) {
  KindHooks sum_hooks;
  sum_hooks.expand_inputs = [](std::vector<std::string> inputs, const KindOptions& options, unsigned workers) {
    if (!options.has("n")) return inputs;
    const auto chunks = options.has("chunks") ? static_cast<uint64_t>(options.integer("chunks")) : 8ull * workers;
    const auto more = split_range(static_cast<uint64_t>(options.integer("n")), chunks);
    inputs.insert(inputs.end(), more.begin(), more.end());
    return inputs;
  };
  sum_hooks.reducer = [](const KindOptions&) { return decimal_sum(); };
  sum_hooks.inputs_hint = ", or --n N";
  registry.add({"sum-squares", "sums i*i over 'BEGIN END' exactly (run: --n N splits [0, N) and adds up)",
                [](const KindOptions&) { return std::make_unique<SumSquaresKind>(); },
                {opt::integer("n", "", 1, int64_t{1} << 40, "sum i*i for i in [0, N), split into --chunks tasks")
                     .run_side(),
                 opt::integer("chunks", "", 1, 1 << 24, "how many tasks --n is split into (default: 8 per worker)")
                     .run_side()},
                std::move(sum_hooks)});

  KindHooks word_hooks;
  word_hooks.reducer = [](const KindOptions& options) {
    return word_merge(static_cast<unsigned>(options.integer("top")));
  };
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
