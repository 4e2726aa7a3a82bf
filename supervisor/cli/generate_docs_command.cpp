// `procpool generate-docs DIR`: the man pages and the shell completions, made from the
// command line's own definitions at build time (CMake runs it; the install and the .deb
// take what it wrote). Hidden from --help: it is the build's, not a user's, command.
#include <filesystem>
#include <fstream>
#include <string>

#include "supervisor/cli/command.hpp"
#include "supervisor/cli/completion.hpp"
#include "supervisor/cli/man_page.hpp"
#include "supervisor/cli/version.hpp"

namespace procpool::cli {
namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Failed("cannot write " + path.string());
}

class GenerateDocsCommand final : public Command {
 public:
  explicit GenerateDocsCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("generate-docs", "Write the man pages and shell completions into DIR.");
    app_->group("");  // hidden
    app_->add_option("dir", dir_, "Where: DIR/man/*.1 and DIR/completion/{procpool.bash,_procpool,procpool.fish}")
        ->required()
        ->option_text("DIR");
  }

  int execute(const Invocation& inv) override {
    const std::filesystem::path dir(dir_);
    const CLI::App& root = *app_->get_parent();
    write(dir / "man" / "procpool.1", root_man_page(root, kVersion));
    for (const auto& command : *inv.commands)
      if (!command->app()->get_group().empty())
        write(dir / "man" / ("procpool-" + command->app()->get_name() + ".1"), command_man_page(root, *command, kVersion));
    write(dir / "completion" / "procpool.bash", completion_script(Shell::Bash, *inv.commands));
    write(dir / "completion" / "_procpool", completion_script(Shell::Zsh, *inv.commands));
    write(dir / "completion" / "procpool.fish", completion_script(Shell::Fish, *inv.commands));
    return 0;
  }

 private:
  std::string dir_;
};

}  // namespace

std::unique_ptr<Command> add_generate_docs(CLI::App& parent) { return std::make_unique<GenerateDocsCommand>(parent); }

}  // namespace procpool::cli
