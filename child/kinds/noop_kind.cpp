// noop: does nothing, so that what a benchmark measures is the dispatch alone.
#include "child/task_api.hpp"

namespace procpool::kinds {

namespace {
class NoopKind final : public TaskKind {
 public:
  void run(std::string_view, TaskOutput&) override {}
};
}  // namespace

void register_noop_kind(KindRegistry& registry) {
  registry.add({"noop", "does nothing (for measuring dispatch)",
                [](const KindOptions&) { return std::make_unique<NoopKind>(); }});
}

}  // namespace procpool::kinds
