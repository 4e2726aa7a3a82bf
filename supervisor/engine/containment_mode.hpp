#pragma once
// How workers are contained (containment.hpp): chosen by PoolOptions::containment.
#include <optional>
#include <string_view>

namespace procpool::supervisor {

enum class ContainmentMode { Auto, CgroupV2, CgroupV1, ProcessGroup };
// "auto", "cgroup2", "cgroup1", "process-group".
const char* containment_name(ContainmentMode mode);
std::optional<ContainmentMode> containment_from_name(std::string_view name);

}  // namespace procpool::supervisor
