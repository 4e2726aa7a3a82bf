// The contracts between a supervisor and its children that are not ring records: the
// child's argv, the slot control block, the status values.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ipc/child_args.hpp"
#include "ipc/segment.hpp"
#include "ipc/slot_control.hpp"
#include "ipc/status.hpp"

using namespace procpool::ipc;

namespace {

struct Argv {
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    ptrs_.push_back("procpool");
    for (const std::string& w : words_) ptrs_.push_back(w.c_str());
  }
  int argc() const { return static_cast<int>(ptrs_.size()); }
  const char* const* argv() const { return ptrs_.data(); }

 private:
  std::vector<std::string> words_;
  std::vector<const char*> ptrs_;
};

}  // namespace

TEST(ChildArgs, WhatTheSupervisorEncodesTheChildDecodes) {
  const ChildArgs sent{"procpool-1000-abc", 7, 123456789012ull, 5, 4242, 9};
  const Argv argv(encode_child_args(sent));
  ASSERT_TRUE(is_child_argv(argv.argc(), argv.argv()));
  const auto got = decode_child_args(argv.argc(), argv.argv());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->segment, sent.segment);
  EXPECT_EQ(got->slot, sent.slot);
  EXPECT_EQ(got->generation, sent.generation);
  EXPECT_EQ(got->wake_fd, sent.wake_fd);
  EXPECT_EQ(got->supervisor, sent.supervisor);
  EXPECT_EQ(got->task_wake_fd, sent.task_wake_fd);
}

TEST(ChildArgs, AnythingButTheExactShapeIsRefused) {
  const std::vector<std::string> good = encode_child_args({"seg", 1, 2, 3, 4, 5});
  auto refused = [](std::vector<std::string> words) {
    const Argv argv(std::move(words));
    return !decode_child_args(argv.argc(), argv.argv()).has_value();
  };
  auto with = [&good](std::size_t i, std::string word) {
    std::vector<std::string> w = good;
    w[i] = std::move(word);
    return w;
  };
  EXPECT_FALSE(refused(good));
  EXPECT_TRUE(refused(std::vector<std::string>(good.begin(), good.end() - 1)));  // a field short
  std::vector<std::string> longer = good;
  longer.push_back("6");
  EXPECT_TRUE(refused(longer));
  EXPECT_TRUE(refused(with(0, "__procpool_kid")));
  EXPECT_TRUE(refused(with(1, "")));                       // no segment name
  EXPECT_TRUE(refused(with(2, "-1")));                     // slot is unsigned
  EXPECT_TRUE(refused(with(2, "12x")));                    // the whole word, not a prefix
  EXPECT_TRUE(refused(with(2, " 1")));
  EXPECT_TRUE(refused(with(2, "4294967296")));             // past uint32_t
  EXPECT_TRUE(refused(with(3, "0")));                      // generations start at 1
  EXPECT_TRUE(refused(with(4, "-1")));                     // no wake-up fd
  EXPECT_TRUE(refused(with(5, "0")));                      // no supervisor
  EXPECT_TRUE(refused(with(6, "")));
}

TEST(ChildArgs, OnlyTheModeWordMakesAChild) {
  const Argv plain({"run", "noop"});
  EXPECT_FALSE(is_child_argv(plain.argc(), plain.argv()));
  const Argv none({});
  EXPECT_FALSE(is_child_argv(none.argc(), none.argv()));
}

TEST(SlotControl, PrepareResetsWhatTheLastChildLeftAndPublishesTheGeneration) {
  SlotControl c{};
  c.prepare(1, 0);
  ASSERT_TRUE(c.owned_by(1));
  c.announce(77);
  c.set_state(ChildState::Ready);
  c.show_running(41, 1000);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(c.claim_task(i));
  c.count_finished(500);
  c.request_stop();
  ASSERT_TRUE(c.stop_requested());

  c.prepare(2, 1);
  EXPECT_FALSE(c.owned_by(1));  // the old child must not attach to the new generation
  EXPECT_TRUE(c.owned_by(2));
  EXPECT_EQ(c.generation(), 2u);
  EXPECT_EQ(c.pid(), 0);
  EXPECT_EQ(c.state(), ChildState::Empty);
  EXPECT_FALSE(c.running().has_value());
  EXPECT_EQ(c.tasks_taken(), 0u);
  EXPECT_FALSE(c.stop_requested());
  EXPECT_EQ(c.restarts(), 1u);
  // The totals are of the slot, over its generations (status shows them so).
  EXPECT_EQ(c.tasks_done(), 1u);
  EXPECT_EQ(c.busy_ns(), 500u);
}

// One word decides each task: claimed by the child or revoked by the supervisor, never
// both (the cross-process run is in tests/process/ring_process_test.cpp).
TEST(SlotControl, ARevokeAndAClaimNeverBothWin) {
  SlotControl c{};
  c.prepare(1, 0);
  ASSERT_TRUE(c.claim_task(0));
  ASSERT_TRUE(c.claim_task(1));
  EXPECT_FALSE(c.claim_task(1)) << "a task is claimed once";
  EXPECT_FALSE(c.revoking());
  EXPECT_EQ(c.revoke(), 2u);  // tasks 0 and 1 started; 2 and later are revoked
  EXPECT_TRUE(c.revoking());
  EXPECT_EQ(c.tasks_taken(), 2u) << "the flag is not part of the count";
  EXPECT_FALSE(c.claim_task(2)) << "a revoked task must not start";
  c.end_revocation(2);
  EXPECT_FALSE(c.revoking());
  EXPECT_TRUE(c.claim_task(2)) << "the next task sent after the revocation";
  EXPECT_EQ(c.tasks_taken(), 3u);
  c.revoke();
  c.prepare(2, 0);  // a new child starts with no revocation
  EXPECT_FALSE(c.revoking());
  EXPECT_EQ(c.tasks_taken(), 0u);
}

TEST(SlotControl, RunningNamesTheTaskAndWhenItStartedUntilIdle) {
  SlotControl c{};
  c.prepare(1, 0);
  c.show_running(0, 5);  // task id 0 is a real task: it must not read as "none"
  ASSERT_TRUE(c.running().has_value());
  EXPECT_EQ(c.running()->task_id, 0u);
  EXPECT_EQ(c.running()->started_ns, 5u);
  c.show_running(9, 6);
  EXPECT_EQ(c.running()->task_id, 9u);
  c.show_idle();
  EXPECT_FALSE(c.running().has_value());
  c.retire();
  EXPECT_EQ(c.state(), ChildState::Retired);
}

TEST(Status, EveryStatusHasOneNameAndBack) {
  for (int i = 0; i < kStatusCount; ++i) {
    const Status s = status_at(i);
    ASSERT_EQ(status_from_name(status_name(s)), s);
  }
  EXPECT_STREQ(status_name(Status::timeout), "timeout");
  EXPECT_FALSE(status_from_name("lost").has_value());
  EXPECT_FALSE(status_from_name("OK").has_value());
  // The pool's counters have one slot per status, no more, no fewer.
  EXPECT_EQ(sizeof(PoolStats::done) / sizeof(PoolStats::done[0]), static_cast<std::size_t>(kStatusCount));
}

