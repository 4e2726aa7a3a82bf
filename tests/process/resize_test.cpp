// A running pool reconfigured (serve's SIGHUP): it grows and shrinks under load with
// every task answered exactly once, children started with old kind options are replaced,
// and options it cannot apply are refused with nothing changed. Real child processes.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "supervisor/engine/supervisor.hpp"

using namespace procpool::supervisor;
using procpool::ipc::Status;

namespace {

class Recorder : public PoolEvents {
 public:
  std::map<uint64_t, Completion> results;  // output views are dropped; outputs kept below
  std::map<uint64_t, std::string> outputs;
  std::vector<uint64_t> order;
  uint64_t duplicates = 0;
  std::function<void()> tick;
  void on_result(const Completion& c) override {
    if (results.count(c.id)) ++duplicates;
    results[c.id] = c;
    outputs[c.id] = std::string(c.output);
    order.push_back(c.id);
    if (tick) tick();
  }
};

PoolOptions options(unsigned workers, unsigned max_workers) {
  PoolOptions o;
  o.workers = workers;
  o.max_workers = max_workers;
  o.child_exe = PROCPOOL_EXE;
  return o;
}

std::string exec_options(const std::string& word) { return "command=[\"echo\",\"" + word + "\",\"{}\"]\n"; }

}  // namespace

TEST(Resize, GrowsAndShrinksUnderLoadLosingNothing) {
  Supervisor pool(options(2, 4), {{"sleep", ""}});
  ASSERT_EQ(pool.start_up(), "");
  const int n = 600;
  for (int i = 0; i < n; ++i) pool.submit(0, "5");
  Recorder rec;
  std::string grow_error = "not called", shrink_error = "not called";
  std::size_t shrunk_at = 0;
  rec.tick = [&] {
    if (rec.results.size() == 50) grow_error = pool.reconfigure(options(4, 0), {{"sleep", ""}});
    if (rec.results.size() == 300) {
      shrink_error = pool.reconfigure(options(1, 0), {{"sleep", ""}});
      shrunk_at = rec.order.size();
    }
  };
  const RunOutcome out = pool.run(rec);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(grow_error, "");
  EXPECT_EQ(shrink_error, "");
  EXPECT_EQ(rec.duplicates, 0u);
  ASSERT_EQ(rec.results.size(), static_cast<std::size_t>(n));
  std::set<int> workers_before_shrink, workers_at_end;
  for (std::size_t i = 0; i < rec.order.size(); ++i) {
    const Completion& c = rec.results[rec.order[i]];
    EXPECT_EQ(c.status, Status::ok) << rec.outputs[c.id];
    EXPECT_EQ(c.attempts, 1u);
    if (i < shrunk_at) workers_before_shrink.insert(c.worker);
    // Well after the shrink, the children that left have answered everything they held.
    if (i >= shrunk_at + 100) workers_at_end.insert(c.worker);
  }
  EXPECT_EQ(workers_before_shrink, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(workers_at_end, std::set<int>{0});
  EXPECT_EQ(pool.workers(), 1u);
  EXPECT_EQ(pool.restarts(), 0u);  // leaving on purpose is no crash
}

TEST(Resize, NewKindOptionsReachEveryTaskSubmittedAfterwards) {
  Supervisor pool(options(2, 2), {{"exec", exec_options("before")}});
  ASSERT_EQ(pool.start_up(), "");
  for (int i = 0; i < 20; ++i) pool.submit(0, "a" + std::to_string(i));
  Recorder rec;
  ASSERT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(pool.reconfigure(options(2, 0), {{"exec", exec_options("after")}}), "");
  for (int i = 0; i < 20; ++i) pool.submit(0, "b" + std::to_string(i));
  ASSERT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(rec.results.size(), 40u);
  for (const auto& [id, c] : rec.results) {
    ASSERT_EQ(c.status, Status::ok) << rec.outputs[id];
    const std::string want = id < 20 ? "before a" + std::to_string(id) : "after b" + std::to_string(id - 20);
    EXPECT_NE(rec.outputs[id].find(want), std::string::npos) << rec.outputs[id];
  }
  EXPECT_EQ(pool.restarts(), 0u);
}

TEST(Resize, WhatCannotChangeIsRefusedAndNothingChanges) {
  Supervisor pool(options(2, 3), {{"noop", ""}, {"sleep", ""}});
  ASSERT_EQ(pool.start_up(), "");
  EXPECT_NE(pool.reconfigure(options(4, 0), {{"noop", ""}, {"sleep", ""}}).find("room for 3"), std::string::npos);
  EXPECT_NE(pool.reconfigure(options(2, 0), {{"sleep", ""}, {"noop", ""}}).find("kinds cannot change"),
            std::string::npos);
  PoolOptions with_plugin = options(2, 0);
  with_plugin.plugins = {"/nonexistent.so"};
  EXPECT_NE(pool.reconfigure(with_plugin, {{"noop", ""}, {"sleep", ""}}).find("plugins"), std::string::npos);
  EXPECT_EQ(pool.workers(), 2u);
  for (int i = 0; i < 10; ++i) pool.submit(0, std::to_string(i));
  Recorder rec;
  ASSERT_EQ(pool.run(rec).error, "");
  ASSERT_EQ(rec.results.size(), 10u);
  std::set<int> workers;
  for (const auto& [id, c] : rec.results) workers.insert(c.worker);
  EXPECT_LE(workers.size(), 2u);
  EXPECT_LE(*workers.rbegin(), 1);
}
