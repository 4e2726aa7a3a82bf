// The Redis queue's contract between producers and hosts: keys and entries.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supervisor/redis/queue.hpp"

using namespace procpool::supervisor::redis;

namespace {

std::vector<std::string> fields_of(const std::vector<std::string>& xadd) {
  return {xadd.begin() + 3, xadd.end()};  // past XADD KEY *
}

}  // namespace

TEST(RedisQueue, KeysShareTheQueuesHashTag) {
  EXPECT_EQ(jobs_key("photos"), "pp:{photos}:jobs");
  EXPECT_EQ(dead_key("photos"), "pp:{photos}:dead");
  EXPECT_EQ(done_key("photos", "c:3"), "pp:{photos}:done:c:3");
  EXPECT_EQ(reply_key("photos", "c"), "pp:{photos}:reply:c");
}

TEST(RedisQueue, WhatAProducerAddsAHostDecodes) {
  Entry sent{"c:0", "label", {}, "pp:{q}:reply:c", {"a", "b c", "\xc3\xa9"}, 5};
  sent.options.set("prefix", "p=");
  sent.options.set("times", "2");
  const std::vector<std::string> xadd = xadd_command("q", sent);
  ASSERT_GE(xadd.size(), 3u);
  EXPECT_EQ(xadd[0], "XADD");
  EXPECT_EQ(xadd[1], jobs_key("q"));
  Entry got;
  std::string why;
  ASSERT_TRUE(decode_entry(fields_of(xadd), &got, &why)) << why;
  EXPECT_EQ(got.job, sent.job);
  EXPECT_EQ(got.kind, sent.kind);
  EXPECT_EQ(got.reply, sent.reply);
  EXPECT_EQ(got.inputs, sent.inputs);
  EXPECT_EQ(got.max_attempts, 5u);
  EXPECT_EQ(got.options.values(), sent.options.values());
}

TEST(RedisQueue, AnEntryWithoutOptionsOrAttemptsHasNoSuchFields) {
  const std::vector<std::string> xadd = xadd_command("q", {"c:0", "noop", {}, "r", {"x"}, 0});
  for (const std::string& w : xadd) {
    EXPECT_NE(w, "options");
    EXPECT_NE(w, "max_attempts");
  }
}

TEST(RedisQueue, AMalformedEntryIsRefusedSayingWhyAndKeepsWhereToAnswer) {
  struct Case {
    std::vector<std::string> fields;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{"kind", "noop", "inputs", "[\"a\"]", "reply", "r"}, "the entry has no \"job\" field"},
      {{"job", "j", "inputs", "[\"a\"]", "reply", "r"}, "the entry has no \"kind\" field"},
      {{"job", "j", "kind", "noop", "inputs", "[\"a\"]"}, "the entry has no \"reply\" field"},
      {{"job", "j", "kind", "noop", "inputs", "[]", "reply", "r"}, "\"inputs\" must be a JSON array of strings, not empty"},
      {{"job", "j", "kind", "noop", "inputs", "not json", "reply", "r"}, "\"inputs\" must be a JSON array of strings, not empty"},
      {{"job", "j", "kind", "noop", "inputs", "[\"a\", 2]", "reply", "r"}, "\"inputs\" must be a JSON array of strings"},
  };
  for (const Case& c : cases) {
    Entry e;
    std::string why;
    EXPECT_FALSE(decode_entry(c.fields, &e, &why));
    EXPECT_EQ(why, c.why);
  }
  Entry e;
  std::string why;
  ASSERT_FALSE(decode_entry({"job", "j", "kind", "noop", "inputs", "[]", "reply", "r"}, &e, &why));
  EXPECT_EQ(e.job, "j");  // the producer still gets its one error result, on its reply stream
  EXPECT_EQ(e.reply, "r");
  ASSERT_FALSE(decode_entry({"job", "j", "kind", "k", "inputs", "[\"a\"]", "reply", "r", "options", "[1]"}, &e, &why));
  EXPECT_FALSE(why.empty());
}

TEST(RedisQueue, MaxAttemptsIsClampedAndAnUnreadableOneLeavesTheHostsDefault) {
  auto attempts = [](const std::string& text) {
    Entry e;
    std::string why;
    EXPECT_TRUE(decode_entry({"job", "j", "kind", "k", "inputs", "[\"a\"]", "reply", "r", "max_attempts", text}, &e, &why))
        << why;
    return e.max_attempts;
  };
  EXPECT_EQ(attempts("7"), 7u);
  EXPECT_EQ(attempts("0"), 1u);
  EXPECT_EQ(attempts("-3"), 1u);
  EXPECT_EQ(attempts("1000"), 100u);
  EXPECT_EQ(attempts("3x"), 0u);
  EXPECT_EQ(attempts(""), 0u);
}
