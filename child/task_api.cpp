#include "child/task_api.hpp"

#include <stdexcept>

namespace procpool {

void KindRegistry::add(KindInfo info) {
  if (find(info.name) != nullptr) throw std::logic_error("task kind registered twice: " + info.name);
  kinds_.push_back(std::move(info));
}

const KindInfo* KindRegistry::find(std::string_view name) const {
  for (const auto& kind : kinds_)
    if (kind.name == name) return &kind;
  return nullptr;
}

std::vector<const KindInfo*> KindRegistry::all() const {
  std::vector<const KindInfo*> out;
  for (const auto& kind : kinds_) out.push_back(&kind);
  return out;
}

}  // namespace procpool
