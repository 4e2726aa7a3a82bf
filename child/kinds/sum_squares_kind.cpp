// sum-squares: the tutorials' CPU-bound workload. Each task sums one range exactly; `run`
// splits [0, N) into ranges (--n, --chunks) and adds the pieces up (reduce.hpp).
#include <charconv>
#include <stdexcept>

#include "child/kinds/reduce.hpp"
#include "child/kinds/text.hpp"
#include "child/task_api.hpp"

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

}  // namespace

void register_sum_squares_kind(KindRegistry& registry) {
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
}

}  // namespace procpool::kinds
