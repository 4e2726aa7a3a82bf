// A plugin kind with options of its own, declared as built-in kinds declare theirs: the
// tests configure it from a flag, from TOML, from a submit request and from a Redis
// entry, and check that each reaches the worker.
#include <string>

#include "child/task_api.hpp"

namespace {

// Output: PREFIX followed by the input TIMES times, upper-cased with --shout.
class Label final : public procpool::TaskKind {
 public:
  Label(std::string prefix, int64_t times, bool shout) : prefix_(std::move(prefix)), times_(times), shout_(shout) {}
  void run(std::string_view input, procpool::TaskOutput& out) override {
    out.data = prefix_;
    for (int64_t i = 0; i < times_; ++i) out.data += input;
    if (shout_)
      for (char& c : out.data) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }

 private:
  std::string prefix_;
  int64_t times_;
  bool shout_;
};

}  // namespace

PROCPOOL_PLUGIN(registry) {
  namespace opt = procpool::opt;
  registry.add({"label", "prints --prefix and the input --times times (test plugin)",
                [](const procpool::KindOptions& o) {
                  return std::make_unique<Label>(o.get("prefix", ""), o.integer("times"), o.flag("shout"));
                },
                {opt::text("prefix", "", "written before the input"),
                 opt::integer("times", "1", 1, 5, "how often the input is repeated"),
                 opt::boolean("shout", false, "upper-case the output")}});
}
