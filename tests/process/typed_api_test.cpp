// The typed C++ API: PROCPOOL_TASK handles, Future<Out>, the exceptions a failed task
// becomes, typed map/starmap/imap, then(), and the codecs of tuples and vectors. Its
// children are this executable re-executed in child mode (procpool::init in main).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "procpool/pool.hpp"

using namespace std::chrono_literals;
using procpool::Pool;

namespace {
struct Range {
  uint64_t begin, end;
};
}  // namespace

PROCPOOL_TASK(square, [](const uint64_t& x) { return x * x; });
PROCPOOL_TASK(sum_squares, [](const Range& r) {
  uint64_t total = 0;
  for (uint64_t i = r.begin; i < r.end; ++i) total += i * i;
  return total;
});
PROCPOOL_TASK(add, [](int a, int b) { return a + b; });
PROCPOOL_TASK(repeat, [](const std::string& s, uint32_t n) {
  std::string out;
  for (uint32_t i = 0; i < n; ++i) out += s;
  return out;
});
PROCPOOL_TASK(checked_root, [](const int64_t& x) {
  if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x));
  int64_t r = 0;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
});
PROCPOOL_TASK(crash_at, [](const int64_t& x) {
  if (x == 13) raise(SIGKILL);
  return x;
});
PROCPOOL_TASK(sleep_for_ms, [](const uint32_t& ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
});
PROCPOOL_TASK(sorted, [](const std::vector<double>& v) {
  std::vector<double> out = v;
  std::sort(out.begin(), out.end());
  return out;
});
PROCPOOL_TASK(words, [](const std::string& s) {
  std::vector<std::string> out;
  std::string word;
  for (char c : s) {
    if (c == ' ') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
});

namespace {

procpool::Options workers(unsigned n) {
  procpool::Options o;
  o.workers = n;
  return o;
}

// A generator: the numbers 0, 1, 2, ... up to n, throwing when it reaches throw_at.
class Numbers {
 public:
  Numbers(int64_t n, int64_t throw_at) : n_(n), throw_at_(throw_at) {}
  struct Sentinel {};
  class Iterator {
   public:
    Iterator(const Numbers* owner, int64_t at) : owner_(owner), at_(at) {}
    int64_t operator*() const {
      if (at_ == owner_->throw_at_) throw std::runtime_error("the generator failed at " + std::to_string(at_));
      return at_;
    }
    Iterator& operator++() {
      ++at_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return at_ == o.at_; }
    bool operator!=(const Iterator& o) const { return at_ != o.at_; }

   private:
    const Numbers* owner_;
    int64_t at_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, n_}; }

 private:
  int64_t n_, throw_at_;
};

}  // namespace

TEST(TypedApi, SubmitReturnsAFutureOfTheTasksOutput) {
  Pool pool(workers(2));
  procpool::Future<uint64_t> f = pool.submit(square, uint64_t{12});
  EXPECT_EQ(f.get(), 144u);
  EXPECT_TRUE(f.ready());
  EXPECT_EQ(f.result().attempts, 1u);
  EXPECT_EQ(pool.submit(sum_squares, {0, 1000}).get(), 332833500u);  // the input braced, as the task's In
  EXPECT_EQ(pool.apply(sum_squares, Range{0, 10}), 285u);
  // The string API still reaches the same kind.
  EXPECT_EQ(pool.apply("square", uint64_t{7}).value<uint64_t>(), 49u);
}

TEST(TypedApi, ATaskOfSeveralArgumentsTakesThemAsTheyAre) {
  Pool pool(workers(2));
  EXPECT_EQ(pool.submit(add, 2, 40).get(), 42);
  EXPECT_EQ(pool.apply(repeat, std::string("ab"), 3u), "ababab");
  const std::vector<std::tuple<int, int>> pairs = {{1, 2}, {3, 4}, {-5, 5}};
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{3, 7, 0}));
  EXPECT_EQ(pool.starmap(repeat, std::vector<std::tuple<std::string, uint32_t>>{{"x", 0}, {"yz", 2}}),
            (std::vector<std::string>{"", "yzyz"}));
}

TEST(TypedApi, AFailureIsThrownAsTheClassOfItsStatus) {
  procpool::Options o = workers(1);
  o.max_attempts = 2;
  o.task_timeout = 300ms;
  Pool pool(o);
  try {
    pool.submit(checked_root, int64_t{-4}).get();
    FAIL() << "no exception";
  } catch (const procpool::TaskCrashed&) {
    FAIL() << "an exception the task threw is not a crash";
  } catch (const procpool::TaskFailed& e) {
    EXPECT_EQ(e.status, procpool::Status::error);
    EXPECT_EQ(e.message, "negative: -4");
    EXPECT_STREQ(e.what(), "error: negative: -4");
    EXPECT_EQ(e.attempts, 1u);  // an error is not retried
  }
  try {
    pool.submit(crash_at, int64_t{13}).get();
    FAIL() << "no exception";
  } catch (const procpool::TaskCrashed& e) {
    EXPECT_EQ(e.status, procpool::Status::crashed);
    EXPECT_NE(e.message.find("SIGKILL"), std::string::npos) << e.message;
    EXPECT_EQ(e.attempts, 2u);  // retried up to max_attempts
  }
  EXPECT_THROW(pool.submit(sleep_for_ms, 5000u).get(), procpool::TaskTimedOut);
  procpool::Future<uint32_t> running = pool.submit(sleep_for_ms, 200u);
  procpool::Future<uint32_t> queued = pool.submit(sleep_for_ms, 1u);
  EXPECT_TRUE(queued.cancel());
  EXPECT_THROW(queued.get(), procpool::TaskCancelled);
  EXPECT_EQ(running.get(), 200u);  // the pool goes on
  EXPECT_EQ(pool.submit(square, uint64_t{3}).get(), 9u);
}

TEST(TypedApi, MapGivesOutputsInInputOrderWithAnyChunkSize) {
  Pool pool(workers(2));
  std::vector<uint64_t> inputs;
  for (uint64_t i = 0; i < 100'000; ++i) inputs.push_back(i);
  for (std::size_t chunk : {0u, 1u, 7u, 5000u, 200'000u}) {  // 0: chosen as Pool.map does
    const std::size_t n = chunk == 1 ? 2000 : inputs.size();  // unchunked: a task each, fewer
    const std::vector<uint64_t> out = pool.map(square, std::vector<uint64_t>(inputs.begin(), inputs.begin() + n), chunk);
    ASSERT_EQ(out.size(), n) << "chunk " << chunk;
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], i * i) << "chunk " << chunk << " #" << i;
  }
  EXPECT_TRUE(pool.map(square, std::vector<uint64_t>{}).empty());
  // Values of other shapes: vectors, strings of several parts.
  EXPECT_EQ(pool.map(sorted, std::vector<std::vector<double>>{{3, 1, 2}, {}, {-1}}),
            (std::vector<std::vector<double>>{{1, 2, 3}, {}, {-1}}));
  EXPECT_EQ(pool.apply(words, std::string(" the quick  fox ")), (std::vector<std::string>{"the", "quick", "fox"}));
}

TEST(TypedApi, MapThrowsTheFirstFailureInInputOrderOnceAllAreDone) {
  Pool pool(workers(2));
  std::vector<int64_t> inputs;
  for (int64_t i = 0; i < 1000; ++i) inputs.push_back(i == 500 ? -500 : i == 700 ? -700 : i);
  for (std::size_t chunk : {0u, 1u, 64u}) {
    try {
      pool.map(checked_root, inputs, chunk);
      FAIL() << "no exception, chunk " << chunk;
    } catch (const procpool::TaskFailed& e) {
      EXPECT_EQ(e.message, "negative: -500") << "chunk " << chunk;
    }
  }
  // A crash fails its chunk (or its input, unchunked) as TaskCrashed.
  std::vector<int64_t> with_crash(200, 1);
  with_crash[150] = 13;
  procpool::Options o = workers(2);
  o.max_attempts = 1;
  Pool crashing(o);
  EXPECT_THROW(crashing.map(crash_at, with_crash, 10), procpool::TaskCrashed);
  EXPECT_EQ(crashing.map(crash_at, std::vector<int64_t>{1, 2, 3}), (std::vector<int64_t>{1, 2, 3}));  // it goes on
}

TEST(TypedApi, MapTimeoutCarriesTheFinishedResults) {
  Pool pool(workers(1));
  const auto start = std::chrono::steady_clock::now();
  try {
    pool.map(sleep_for_ms, std::vector<uint32_t>{0, 0, 3000, 1000, 1000}, 1, 500ms);
    FAIL() << "no TimeoutError";
  } catch (const procpool::TimeoutError& e) {
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
    ASSERT_EQ(e.finished.size(), 2u) << e.what();
    EXPECT_EQ(e.finished[0].index, 0u);
    EXPECT_EQ(e.finished[1].value<uint32_t>(), 0u);
  }
  // A chunked map's finished chunk comes back as a Result per input. (A pool of its own:
  // the first map's 3 s task runs on unseen.)
  Pool other(workers(1));
  try {
    other.map(sleep_for_ms, std::vector<uint32_t>{0, 0, 0, 3000, 0, 0}, 3, 500ms, procpool::OnTimeout::kill);
    FAIL() << "no TimeoutError";
  } catch (const procpool::TimeoutError& e) {
    ASSERT_EQ(e.finished.size(), 3u) << e.what();
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(e.finished[i].index, i);
      EXPECT_EQ(e.finished[i].value<uint32_t>(), 0u);
    }
  }
  EXPECT_EQ(other.submit(square, uint64_t{5}).get(), 25u);
}

TEST(TypedApi, ImapYieldsOutputsLazilyAndAFailureAtItsPlace) {
  Pool pool(workers(2));
  std::vector<int64_t> got;
  for (int64_t r : pool.imap(checked_root, Numbers(100, -1), 8)) got.push_back(r);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99], 9);

  // A failed task throws from next() at its place; the rest follow.
  std::vector<int64_t> with_failure = {4, 9, -1, 16};
  procpool::LazyValues<int64_t> values = pool.imap(checked_root, with_failure, 2);
  EXPECT_EQ(values.next(), 2);
  EXPECT_EQ(values.next(), 3);
  EXPECT_THROW(values.next(), procpool::TaskFailed);
  EXPECT_EQ(values.next(), 4);
  EXPECT_EQ(values.next(), std::nullopt);

  // The generator's own exception comes after the outputs of the inputs before it.
  procpool::LazyValues<int64_t> broken = pool.imap(checked_root, Numbers(10, 3), 4);
  EXPECT_EQ(broken.next(), 0);
  EXPECT_EQ(broken.next(), 1);
  EXPECT_EQ(broken.next(), 1);
  EXPECT_THROW(broken.next(), std::runtime_error);
  EXPECT_EQ(broken.next(), std::nullopt);

  std::multiset<uint64_t> unordered;
  for (uint64_t v : pool.imap_unordered(square, std::vector<uint64_t>{1, 2, 3, 4})) unordered.insert(v);
  EXPECT_EQ(unordered, (std::multiset<uint64_t>{1, 4, 9, 16}));
}

TEST(TypedApi, ThenRunsOnThePoolsThreadAndCarriesFailures) {
  Pool pool(workers(2));
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  std::future<std::string> text = pool.submit(square, uint64_t{9}).then([&](uint64_t v) {
    ran_on = std::this_thread::get_id();
    return "squared: " + std::to_string(v);
  });
  EXPECT_EQ(text.get(), "squared: 81");
  EXPECT_NE(ran_on, caller);
  // A continuation may itself use the pool: it never runs on the loop that fulfils futures.
  std::future<uint64_t> chained =
      pool.submit(square, uint64_t{2}).then([&](uint64_t v) { return pool.submit(square, v).get(); });
  EXPECT_EQ(chained.get(), 16u);
  // The task's failure reaches the std::future without calling fn; fn's own throw too.
  std::atomic<bool> called{false};
  std::future<int64_t> failed = pool.submit(checked_root, int64_t{-1}).then([&](int64_t v) {
    called = true;
    return v;
  });
  EXPECT_THROW(failed.get(), procpool::TaskFailed);
  EXPECT_FALSE(called);
  std::future<void> throwing =
      pool.submit(square, uint64_t{1}).then([](uint64_t) { throw std::logic_error("from the continuation"); });
  EXPECT_THROW(throwing.get(), std::logic_error);
  // on_done hands the ready future itself.
  std::promise<uint64_t> seen;
  pool.submit(square, uint64_t{11}).on_done([&](const procpool::Future<uint64_t>& f) { seen.set_value(f.get()); });
  EXPECT_EQ(seen.get_future().get(), 121u);
}

TEST(TypedApi, TypedFuturesWorkWithWaitAsCompletedAndKill) {
  Pool pool(workers(1));
  procpool::Future<uint32_t> long_one = pool.submit(sleep_for_ms, 10'000u);
  procpool::Future<uint32_t> short_one = pool.submit(sleep_for_ms, 1u);
  const procpool::WaitResultOf<uint32_t> r =
      procpool::wait(std::vector<procpool::Future<uint32_t>>{long_one, short_one, short_one}, procpool::FirstCompleted, 50ms);
  EXPECT_TRUE(r.done.empty());  // the short one waits behind the long one
  EXPECT_EQ(r.not_done.size(), 2u);  // a future given twice counts once
  EXPECT_THROW(procpool::as_completed(std::vector<procpool::Future<uint32_t>>{long_one}, 0ms).next(), procpool::TimeoutError);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(long_one.kill());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_THROW(long_one.get(), procpool::TaskCancelled);
  EXPECT_EQ(short_one.get(), 1u);
  // Typed as_completed: each once, done ones first.
  std::vector<procpool::Future<uint32_t>> more;
  for (uint32_t ms : {30u, 1u, 10u}) more.push_back(pool.submit(sleep_for_ms, ms));
  more.push_back(more[0]);
  std::multiset<uint32_t> seen;
  for (procpool::Future<uint32_t>& f : procpool::as_completed(more, 5s)) seen.insert(f.get());
  EXPECT_EQ(seen, (std::multiset<uint32_t>{1, 10, 30}));
}

// Two pools of one program each hold their workers apart: a kill or a stray sweep in one
// never reaches the other's (they once shared a cgroup named after the process).
TEST(TypedApi, TwoPoolsInOneProgramLeaveEachOtherAlone) {
  procpool::Options o = workers(1);
  o.max_attempts = 1;
  Pool a(o);
  Pool b(o);
  if (a.containment().rfind("cgroup", 0) == 0) {
    EXPECT_NE(a.containment(), b.containment());
  }
  for (int round = 0; round < 3; ++round) {
    procpool::Future<uint32_t> in_b = b.submit(sleep_for_ms, 300u);
    procpool::Future<uint32_t> in_a = a.submit(sleep_for_ms, 10'000u);
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(in_a.kill());
    EXPECT_EQ(in_b.get(), 300u) << "round " << round << ": " << in_b.result().error;
    EXPECT_EQ(a.submit(square, uint64_t{4}).get(), 16u);
  }
}

TEST(TypedCodec, TuplesAndVectorsRoundTripAndRefuseBadBytes) {
  using T = std::tuple<std::string, uint32_t, std::vector<std::string>>;
  const T value{"name", 7, {"a", "", "ccc"}};
  EXPECT_EQ(procpool::Codec<T>::decode(procpool::Codec<T>::encode(value)), value);
  const std::string bytes = procpool::Codec<T>::encode(value);
  EXPECT_THROW(procpool::Codec<T>::decode(std::string_view(bytes).substr(0, bytes.size() - 1)), procpool::DecodeError);
  EXPECT_THROW(procpool::Codec<T>::decode(bytes + "x"), procpool::DecodeError);
  EXPECT_THROW(procpool::Codec<std::vector<double>>::decode("12345"), procpool::DecodeError);
  const std::vector<double> doubles = {1.5, -2.0};
  EXPECT_EQ(procpool::Codec<std::vector<double>>::decode(procpool::Codec<std::vector<double>>::encode(doubles)), doubles);
}

int main(int argc, char** argv) {
  procpool::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
