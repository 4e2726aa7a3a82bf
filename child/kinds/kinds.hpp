#pragma once
#include "child/task_api.hpp"

namespace procpool::kinds {
void register_basic_kinds(KindRegistry& registry);
void register_thumbnail_kind(KindRegistry& registry);
void register_compute_kinds(KindRegistry& registry);
void register_exec_kind(KindRegistry& registry);
void register_download_kind(KindRegistry& registry);
}  // namespace procpool::kinds
