#include "supervisor/cli/kinds.hpp"

#include <filesystem>
#include <set>
#include <stdexcept>
#include <utility>

#include "child/plugin_loader.hpp"
#include "supervisor/batch/run.hpp"
#include "supervisor/cli/suggest.hpp"

namespace procpool::cli {

std::vector<KindSchema> schemas(const KindRegistry& registry) {
  std::vector<KindSchema> out;
  for (const KindInfo* k : registry.all()) out.push_back(k->schema());
  return out;
}

const KindInfo& find_kind(const KindRegistry& registry, const std::string& kind) {
  const KindInfo* info = registry.find(kind);
  if (info != nullptr) return *info;
  std::string names;
  std::vector<std::string> known;
  for (const KindInfo* k : registry.all()) {
    names += (names.empty() ? "" : ", ") + k->name;
    known.push_back(k->name);
  }
  const std::string near = nearest(kind, known);
  throw supervisor::UsageError("unknown task kind '" + kind + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
                               " (kinds: " + names + ")");
}

KindOptions checked_options(const KindInfo& kind, const KindOptions& given) {
  try {
    return kind.check(given);
  } catch (const std::invalid_argument& e) {
    throw supervisor::UsageError(e.what());
  }
}

void load_plugins(const std::vector<std::string>& paths, KindRegistry& registry) {
  static std::set<std::pair<const KindRegistry*, std::string>> loaded;
  for (const std::string& plugin : paths) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(plugin, ec);
    const std::string path = ec ? plugin : absolute.lexically_normal().string();
    if (!loaded.insert({&registry, path}).second) continue;
    try {
      load_plugin(path, registry);
    } catch (const std::exception& e) {
      throw supervisor::UsageError(e.what());
    }
  }
}

std::vector<std::string> scanned_values(int argc, char** argv, const std::string& flag) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == flag && i + 1 < argc) out.emplace_back(argv[++i]);
    else if (arg.rfind(flag + "=", 0) == 0) out.push_back(arg.substr(flag.size() + 1));
  }
  return out;
}

}  // namespace procpool::cli
