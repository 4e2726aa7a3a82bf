#include "supervisor/cli/command.hpp"

#include "supervisor/cli/help_format.hpp"

namespace procpool::cli {

void Command::document(CommandDoc doc) {
  doc_ = std::move(doc);
  const std::size_t width = help_width();
  std::string footer;
  if (!doc_.about.empty()) footer += wrapped(doc_.about, 0, width) + "\n";
  if (!doc_.kinds_listed.empty()) footer += (footer.empty() ? "" : "\n") + kinds_list_help(doc_.kinds_listed, width);
  footer += kind_options_help(doc_.kind_options, width);
  if (!doc_.exit_status.empty())
    footer += (footer.empty() ? "" : "\n") + wrapped("Exit status: " + doc_.exit_status, 0, width) + "\n";
  if (!footer.empty() && footer.back() == '\n') footer.pop_back();
  app_->footer(footer);
}

}  // namespace procpool::cli
