#include "supervisor/redis/fan_out.hpp"

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "ipc/clock.hpp"
#include "supervisor/observe/report.hpp"

namespace procpool::supervisor::redis {

namespace {

// A result line as the pool would have reported it, for run's statistics (valid while the
// line lives). A host's times are its own (wait: queued on that host), so only their
// differences are used.
Completion completion_from_line(const nlohmann::json& line) {
  Completion c;
  const auto status = line.find("status");
  const std::string name = status != line.end() && status->is_string() ? status->get<std::string>() : "";
  c.status = ipc::status_from_name(name).value_or(ipc::Status::error);
  if (name == "lost") c.status = ipc::Status::crashed;  // its hosts died running it
  auto ms = [&](const char* key) {
    const auto it = line.find(key);
    return it != line.end() && it->is_number() ? static_cast<uint64_t>(it->get<double>() * 1e6) : 0;
  };
  // The crash cause, for the summary: the text lives as long as the line.
  if (const auto error = line.find("error"); error != line.end() && error->is_string())
    c.output = error->get_ref<const std::string&>();
  if (const auto id = line.find("id"); id != line.end() && id->is_number_unsigned()) c.id = id->get<uint64_t>();
  if (line.contains("run_ms")) {
    c.queued_ns = 1;
    c.start_ns = c.queued_ns + ms("wait_ms");
    c.end_ns = c.start_ns + ms("run_ms");
  }
  return c;
}

}  // namespace

int run_batch_redis(const RunRequest& request, const ProducerSettings& producer) {
  if (!request.then_kind.empty()) throw UsageError("--then does not combine with --redis (yet)");
  check_timeline_path(request);
  const std::vector<std::string> inputs = inputs_to_run(request);
  if (inputs.empty()) return 0;  // resumed, and everything was done
  ResultsFile results(request);
  const uint64_t start_ns = ipc::monotonic_ns();
  RunStats stats(start_ns);
  std::map<std::string, uint64_t> by_host;
  std::vector<TimelineTask> timeline;
  std::unique_ptr<Reducer> reducer;
  if (request.schema.hooks.reducer) reducer = request.schema.hooks.reducer(request.options);
  const int status = produce(producer, request.kind, request.remote_options, inputs, [&](const std::string& text, const std::string& host) {
    const nlohmann::json line = nlohmann::json::parse(text, nullptr, false);
    if (TimelineTask t; !request.timeline_path.empty() && timeline_task_from_json(text, &t))
      timeline.push_back(std::move(t));
    if (line.is_object()) {
      const Completion c = completion_from_line(line);
      stats.add(c);
      const auto out = line.find("output");
      if (c.status == ipc::Status::ok && out != line.end()) {
        const std::string output = out->is_string() ? out->get<std::string>() : out->dump();
        if (reducer) reducer->add(output);
        if (request.schema.hooks.stdout_line && results.stream() != stdout) {
          const std::string printed = request.schema.hooks.stdout_line(output);
          if (!printed.empty()) std::printf("%s\n", printed.c_str());
        }
      }
    }
    ++by_host[host.empty() ? "?" : host];
    if (results.stream() != nullptr) {
      std::fwrite(text.data(), 1, text.size(), results.stream());
      std::fputc('\n', results.stream());
    }
  });
  if (status == 2) return 2;  // produce said why
  if (results.stream() != nullptr) std::fflush(results.stream());
  if (request.summary) {
    std::string summary = stats.summary_head(inputs.size(), ipc::monotonic_ns()) + "  hosts:";
    for (const auto& [host, n] : by_host) summary += " " + host + " (" + counted(n, "task") + ")";
    std::fputs((summary + "\n" + stats.failure_lines()).c_str(), stderr);
  }
  if (!request.timeline_path.empty())
    write_timeline(request.timeline_path, timeline, "procpool run " + request.kind + " --redis");
  if (reducer && stats.done() == inputs.size()) print_reduced(*reducer, stats);
  return stats.all_ok() ? 0 : 1;
}

}  // namespace procpool::supervisor::redis
