#include "ipc/records.hpp"

#include <gtest/gtest.h>

#include <tuple>

#include "ipc/kind_options.hpp"

using namespace procpool::ipc;

TEST(Records, DefineKindRoundTrips) {
  const std::string rec = encode_define_kind({7, "thumbnail", "size=64x64\nout=/tmp\n"});
  const auto def = decode_define_kind(rec);
  ASSERT_TRUE(def);
  EXPECT_EQ(def->id, 7);
  EXPECT_EQ(def->name, "thumbnail");
  EXPECT_EQ(def->options, "size=64x64\nout=/tmp\n");
  EXPECT_FALSE(decode_define_kind(rec.substr(0, 5)));  // name cut short
  EXPECT_FALSE(decode_define_kind(""));
}

TEST(Records, ReadyRoundTripsAndRejectsBadCounts) {
  const std::string rec = encode_ready({1, 32});
  const auto ready = decode_ready(rec);
  ASSERT_TRUE(ready);
  EXPECT_EQ(*ready, (std::vector<uint32_t>{1, 32}));
  EXPECT_FALSE(decode_ready(rec.substr(0, rec.size() - 1)));
  EXPECT_FALSE(decode_ready(rec + "x"));
}

TEST(Records, ResultValidatesStatusAndTimes) {
  ResultHeader h{};
  h.type = static_cast<uint8_t>(RecordType::Result);
  h.status = static_cast<uint8_t>(Status::error);
  h.task_id = 42;
  h.start_ns = 10;
  h.end_ns = 20;
  std::string rec(reinterpret_cast<const char*>(&h), sizeof h);
  rec += "boom";
  auto view = decode_result(rec);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header.task_id, 42u);
  EXPECT_EQ(view->output, "boom");

  ResultHeader bad = h;
  bad.status = static_cast<uint8_t>(Status::crashed);  // only the supervisor sees a worker crash
  EXPECT_FALSE(decode_result(std::string(reinterpret_cast<const char*>(&bad), sizeof bad)));
  bad.signal = 11;  // the task's command was killed by SIGSEGV, its worker lives
  EXPECT_TRUE(decode_result(std::string(reinterpret_cast<const char*>(&bad), sizeof bad)));
  bad.status = static_cast<uint8_t>(Status::timeout);
  EXPECT_FALSE(decode_result(std::string(reinterpret_cast<const char*>(&bad), sizeof bad)));
  bad = h;
  bad.end_ns = 5;  // ends before it starts
  EXPECT_FALSE(decode_result(std::string(reinterpret_cast<const char*>(&bad), sizeof bad)));
  EXPECT_FALSE(decode_result(rec.substr(0, sizeof h - 1)));
  for (auto [exit_code, signal, valid] : {std::tuple{-1, 0, true}, {255, 0, true}, {-1, 64, true}, {256, 0, false},
                                          {-2, 0, false}, {-1, 65, false}, {-1, -1, false}}) {
    bad = h;
    bad.exit_code = exit_code;  // a command's status fits a byte, its signal is a signal
    bad.signal = signal;
    EXPECT_EQ(decode_result(std::string(reinterpret_cast<const char*>(&bad), sizeof bad)).has_value(), valid)
        << exit_code << " " << signal;
  }
}

TEST(Records, TaskDecodesInPlace) {
  TaskHeader h{};
  h.type = static_cast<uint8_t>(RecordType::Task);
  h.kind = 2;
  h.attempt = 1;
  h.task_id = 9;
  std::string rec(reinterpret_cast<const char*>(&h), sizeof h);
  rec += "input";
  const auto view = decode_task(rec);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header.kind, 2);
  EXPECT_EQ(view->input, "input");
  EXPECT_FALSE(decode_task("x"));
}

TEST(KindOptions, RoundTripAndValidation) {
  procpool::KindOptions o;
  o.set("size", "64x64");
  o.set("quality", "90");
  const auto back = procpool::KindOptions::decode(o.encode());
  EXPECT_EQ(back.get("size", ""), "64x64");
  EXPECT_EQ(back.get_int("quality", 75, 1, 100), 90);
  EXPECT_EQ(back.get_int("missing", 75, 1, 100), 75);
  o.set("quality", "101");
  EXPECT_THROW(o.get_int("quality", 75, 1, 100), std::invalid_argument);
  o.set("quality", "9x");
  EXPECT_THROW(o.get_int("quality", 75, 1, 100), std::invalid_argument);
  o.set("out", "a\nb");
  EXPECT_THROW(o.encode(), std::invalid_argument);
}
