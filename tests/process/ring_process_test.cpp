// The SPSC ring between two real processes: millions of records of random sizes with
// wrap-around, full and empty edges, sleeps and wake-ups on both sides, every byte
// checked; and a producer killed with SIGKILL mid-stream leaves only whole records.
// Revocation (SlotControl::revoke, claim_task) between two real processes: every task is
// run exactly once, however the revocations fall.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <thread>
#include <vector>

#include "ipc/clock.hpp"
#include "ipc/segment.hpp"
#include "tests/ci_skip.hpp"

extern char** environ;

using namespace procpool::ipc;

namespace {

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Record i of a stream: mostly small, sometimes up to the ring's largest payload.
std::string make_record(uint64_t seed, uint64_t i, std::size_t max_payload) {
  uint64_t s = seed * 1'000'003 + i;
  const uint64_t r = splitmix(s);
  std::size_t len;
  if (r % 100 == 0) len = splitmix(s) % (max_payload + 1);
  else if (r % 10 == 0) len = 0;
  else len = splitmix(s) % 300;
  std::string out(len, '\0');
  for (std::size_t k = 0; k < len; k += 8) {
    const uint64_t v = splitmix(s);
    std::memcpy(out.data() + k, &v, std::min<std::size_t>(8, len - k));
  }
  return out;
}

constexpr uint64_t kRingBytes = 64 * 1024;

int producer_main(const std::string& name, uint64_t count, uint64_t seed, bool slow) {
  auto seg = Segment::attach(name);
  SlotView slot = seg->slot(0);
  RingProducer ring(slot.to_child, slot.to_child_data, slot.ring_capacity);
  uint64_t batch_state = seed;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string rec = make_record(seed, i, ring.max_payload());
    while (!ring.try_write(rec.data(), rec.size())) {
      ring.publish();
      ring.wait_for_space(50'000'000);
    }
    if (splitmix(batch_state) % 8 == 0) ring.publish();  // batches of random length
    if (slow && i % 64 == 0) usleep(200);
  }
  ring.publish();
  return 0;
}

pid_t spawn_producer(const std::string& name, uint64_t count, uint64_t seed, bool slow) {
  std::string count_s = std::to_string(count), seed_s = std::to_string(seed);
  char* argv[] = {const_cast<char*>("ring_process_test"), const_cast<char*>("--producer"),
                  const_cast<char*>(name.c_str()), count_s.data(), seed_s.data(),
                  const_cast<char*>(slow ? "slow" : "fast"), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ), 0);
  return pid;
}

// Reads records until `count` arrived or the deadline; checks each byte. Returns how many.
uint64_t consume(RingConsumer& ring, uint64_t count, uint64_t seed, std::size_t max_payload, bool dawdle,
                 std::chrono::seconds limit, bool* corrupt) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  uint64_t got = 0, state = seed;
  while (got < count && std::chrono::steady_clock::now() < deadline) {
    std::string_view rec;
    const auto r = ring.peek(&rec);
    if (r == RingConsumer::Read::Corrupt) {
      *corrupt = true;
      return got;
    }
    if (r == RingConsumer::Read::Empty) {
      ring.release();
      if (ring.prepare_sleep()) ring.wait_for_data(20'000'000);
      continue;
    }
    const std::string expected = make_record(seed, got, max_payload);
    if (rec != std::string_view(expected)) {
      ADD_FAILURE() << "record " << got << " differs (length " << rec.size() << " vs " << expected.size() << ")";
      return got;
    }
    ring.pop();
    ++got;
    if (splitmix(state) % 16 == 0) ring.release();
    if (dawdle && got % 5000 == 0) usleep(2000);  // let the producer fill the ring
  }
  ring.release();
  return got;
}


// The worker's side of revocation, as child/worker.cpp does it: claim the task at the
// ring's head before running it; when the claim fails, drop every task record until the
// ring is empty, then end the revocation. Each task run is reported on the result ring.
int claimer_main(const std::string& name) {
  auto seg = Segment::attach(name);
  SlotView slot = seg->slot(0);
  RingConsumer tasks(slot.to_child, slot.to_child_data, slot.ring_capacity);
  RingProducer results(slot.to_sup, slot.to_sup_data, slot.ring_capacity);
  uint64_t taken = 0, state = 99;
  bool dropping = false;
  for (;;) {
    std::string_view rec;
    const auto r = tasks.peek(&rec);
    if (r == RingConsumer::Read::Corrupt) return 2;
    if (r == RingConsumer::Read::Empty) {
      tasks.release();
      if (dropping) {
        dropping = false;
        slot.control->end_revocation(taken);
        continue;
      }
      results.publish();
      if (tasks.prepare_sleep()) tasks.wait_for_data(20'000'000);
      continue;
    }
    uint64_t id = 0;
    std::memcpy(&id, rec.data(), sizeof id);
    if (id == UINT64_MAX) return 0;  // the end (never revoked: sent once nothing is in flight)
    if (!dropping && slot.control->claim_task(taken)) {
      ++taken;
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(splitmix(state) % 40);
      while (std::chrono::steady_clock::now() < until) {
      }
      while (!results.try_write(&id, sizeof id)) {
        results.publish();
        results.wait_for_space(50'000'000);
      }
      if (splitmix(state) % 4 == 0) results.publish();
    } else {
      dropping = true;
    }
    tasks.pop();
    tasks.release();
  }
}
}  // namespace

TEST(RingAcrossProcesses, MillionsOfRandomRecordsArriveIntact) {
  auto seg = Segment::create(1, kRingBytes);
  SlotView slot = seg->slot(0);
  RingConsumer ring(slot.to_child, slot.to_child_data, slot.ring_capacity);
  const uint64_t count = 2'000'000, seed = 12345;
  const pid_t pid = spawn_producer(seg->name(), count, seed, false);
  bool corrupt = false;
  const uint64_t got = consume(ring, count, seed, RingProducer(slot.to_child, slot.to_child_data, kRingBytes).max_payload(),
                               true, std::chrono::seconds(120), &corrupt);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_FALSE(corrupt);
  EXPECT_EQ(got, count);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(RingAcrossProcesses, ProducerKilledMidStreamLeavesOnlyWholeRecords) {
  for (int round = 0; round < 5; ++round) {
    auto seg = Segment::create(1, kRingBytes);
    SlotView slot = seg->slot(0);
    RingConsumer ring(slot.to_child, slot.to_child_data, slot.ring_capacity);
    const uint64_t seed = 777 + round;
    const pid_t pid = spawn_producer(seg->name(), 100'000'000, seed, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 17 * round));
    bool corrupt = false;
    const std::size_t max_payload = RingProducer(slot.to_child, slot.to_child_data, kRingBytes).max_payload();
    const uint64_t before = consume(ring, 1000 + round * 300, seed, max_payload, false, std::chrono::seconds(10), &corrupt);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    // Whatever it published is whole and in order; then the ring is simply empty.
    std::string_view rec;
    uint64_t after = 0;
    RingConsumer::Read r;
    while ((r = ring.peek(&rec)) == RingConsumer::Read::Record) {
      ASSERT_EQ(rec, std::string_view(make_record(seed, before + after, max_payload))) << "record " << before + after;
      ring.pop();
      ++after;
    }
    EXPECT_FALSE(corrupt);
    EXPECT_EQ(r, RingConsumer::Read::Empty);
    EXPECT_GT(before, 0u);
  }
}

// The supervisor's side (engine/dispatch.cpp): tasks carry sequence numbers; a revoke
// returns how many the worker claimed, the rest go back and are sent again (the next
// sequence number is that count), and nothing is written while the revocation stands.
TEST(RingAcrossProcesses, RevokedTasksAreRunNeverAndTheOthersExactlyOnce) {
  auto seg = Segment::create(1, kRingBytes);
  SlotView slot = seg->slot(0);
  slot.control->prepare(1, 0);
  RingProducer tasks(slot.to_child, slot.to_child_data, slot.ring_capacity);
  RingConsumer results(slot.to_sup, slot.to_sup_data, slot.ring_capacity);
  char* argv[] = {const_cast<char*>("ring_process_test"), const_cast<char*>("--claimer"),
                  const_cast<char*>(seg->name().c_str()), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ), 0);

  constexpr uint64_t kTasks = 200'000;
  std::deque<uint64_t> pending;
  for (uint64_t i = 0; i < kTasks; ++i) pending.push_back(i);
  std::deque<std::pair<uint64_t, uint64_t>> inflight;  // (id, seq), in send order
  std::vector<int> runs(kTasks, 0);
  uint64_t seq = 0, done = 0, revocations = 0, revoked_tasks = 0, state = 7;
  bool revoking = false;
  auto next_revoke = std::chrono::steady_clock::now();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done < kTasks && std::chrono::steady_clock::now() < deadline) {
    std::string_view rec;
    while (results.peek(&rec) == RingConsumer::Read::Record) {
      uint64_t id = 0;
      std::memcpy(&id, rec.data(), sizeof id);
      ASSERT_LT(id, kTasks);
      ++runs[id];
      ++done;
      const auto it = std::find_if(inflight.begin(), inflight.end(), [id](const auto& t) { return t.first == id; });
      ASSERT_NE(it, inflight.end()) << "task " << id << " ran, but it was not in flight (revoked?)";
      inflight.erase(it);
      results.pop();
    }
    results.release();
    if (revoking && !slot.control->revoking()) revoking = false;
    for (int n = 0; !revoking && n < 64 && !pending.empty() && inflight.size() < 256; ++n) {
      const uint64_t id = pending.front();
      if (!tasks.try_write(&id, sizeof id)) break;
      pending.pop_front();
      inflight.emplace_back(id, seq++);
    }
    tasks.publish();
    // A revocation every 0-400 us: often enough to hit every phase of the worker's loop,
    // seldom enough that tasks get run between them.
    const auto now = std::chrono::steady_clock::now();
    if (!revoking && !inflight.empty() && now >= next_revoke) {
      next_revoke = now + std::chrono::microseconds(splitmix(state) % 400);
      const uint64_t taken = slot.control->revoke();
      if (taken == seq) {  // all claimed already: nothing to take back
        slot.control->withdraw_revocation(taken);
        continue;
      }
      revoking = true;
      ++revocations;
      while (!inflight.empty() && inflight.back().second >= taken) {
        pending.push_front(inflight.back().first);
        inflight.pop_back();
        ++revoked_tasks;
      }
      seq = taken;
    }
  }
  for (int i = 0; i < 20000 && slot.control->revoking(); ++i) std::this_thread::sleep_for(std::chrono::microseconds(50));
  if (slot.control->revoking()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "the worker never ended a revocation";
  }
  const uint64_t end = UINT64_MAX;
  while (!tasks.try_write(&end, sizeof end)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  tasks.publish();
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(done, kTasks);
  for (uint64_t i = 0; i < kTasks; ++i) ASSERT_EQ(runs[i], 1) << "task " << i;
  EXPECT_GT(revocations, 100u);
  EXPECT_GT(revoked_tasks, 0u) << "no revocation took a queued task: the test proved nothing";
  RecordProperty("revocations", static_cast<int>(revocations));
  RecordProperty("revoked_tasks", static_cast<int>(revoked_tasks));
}

TEST(RingSingleProcess, FullEmptyAndOversizedEdges) {
  auto seg = Segment::create(1, 4096);
  SlotView slot = seg->slot(0);
  RingProducer p(slot.to_child, slot.to_child_data, 4096);
  RingConsumer c(slot.to_child, slot.to_child_data, 4096);
  std::string_view rec;
  EXPECT_EQ(c.peek(&rec), RingConsumer::Read::Empty);
  const std::string big(p.max_payload(), 'x');
  EXPECT_FALSE(p.try_write(big.data(), big.size() + 1));  // over the limit: never fits
  ASSERT_TRUE(p.try_write(big.data(), big.size()));
  EXPECT_EQ(c.peek(&rec), RingConsumer::Read::Empty);  // not published yet
  p.publish();
  ASSERT_EQ(c.peek(&rec), RingConsumer::Read::Record);
  EXPECT_EQ(rec.size(), big.size());
  // The ring is half full; one more max-size record does not fit until the first is released.
  ASSERT_TRUE(p.try_write(big.data(), 100));
  EXPECT_FALSE(p.try_write(big.data(), big.size()));
  c.pop();
  c.release();
  EXPECT_TRUE(p.try_write(big.data(), big.size()));  // wraps around
  p.publish();
  ASSERT_EQ(c.peek(&rec), RingConsumer::Read::Record);
  EXPECT_EQ(rec.size(), 100u);
  c.pop();
  ASSERT_EQ(c.peek(&rec), RingConsumer::Read::Record);
  EXPECT_EQ(rec.size(), big.size());
  c.pop();
  EXPECT_EQ(c.peek(&rec), RingConsumer::Read::Empty);
}

TEST(RingSingleProcess, CorruptFramesAreDetected) {
  auto seg = Segment::create(1, 4096);
  SlotView slot = seg->slot(0);
  RingProducer p(slot.to_child, slot.to_child_data, 4096);
  RingConsumer c(slot.to_child, slot.to_child_data, 4096);
  ASSERT_TRUE(p.try_write("hello", 5));
  p.publish();
  FrameHeader bad{5000, 0};  // longer than the ring allows
  std::memcpy(slot.to_child_data, &bad, sizeof bad);
  std::string_view rec;
  EXPECT_EQ(c.peek(&rec), RingConsumer::Read::Corrupt);
  FrameHeader wrong_seq{5, 9};
  std::memcpy(slot.to_child_data, &wrong_seq, sizeof wrong_seq);
  EXPECT_EQ(c.peek(&rec), RingConsumer::Read::Corrupt);
}

TEST(Segment, IsPrivateToItsOwnerAndRemovedWithIt) {
  std::string path;
  {
    auto seg = Segment::create(2, 4096);
    path = "/dev/shm/" + seg->name();
    struct stat st{};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, getuid());
    EXPECT_NE(seg->name().find(segment_prefix() + std::to_string(getpid()) + "-"), std::string::npos);
  }
  struct stat st{};
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(Segment, StaleSegmentsOfDeadSupervisorsAreRemoved) {
  // A child process creates a segment and dies without removing it (SIGKILL).
  pid_t pid = fork();
  if (pid == 0) {
    auto seg = Segment::create(1, 4096);
    FILE* f = fopen(("/tmp/procpool-stale-" + std::to_string(getpid())).c_str(), "w");
    fputs(seg->name().c_str(), f);
    fclose(f);
    raise(SIGKILL);
  }
  // Not reaped yet: a zombie creator is as dead as a reaped one.
  siginfo_t info{};
  waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
  const std::string note = "/tmp/procpool-stale-" + std::to_string(pid);
  FILE* f = fopen(note.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char name[256] = {};
  ASSERT_NE(fgets(name, sizeof name, f), nullptr);
  fclose(f);
  unlink(note.c_str());
  const std::string path = std::string("/dev/shm/") + name;
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "the dead creator's segment should still be there";
  auto live = Segment::create(1, 4096);  // ours, alive: must survive the sweep
  EXPECT_GE(remove_stale_segments(), 1);
  EXPECT_NE(stat(path.c_str(), &st), 0);
  EXPECT_EQ(stat(("/dev/shm/" + live->name()).c_str(), &st), 0);
  int status = 0;
  waitpid(pid, &status, 0);
}

// The uid and gid a test switches to, to act as another user (Debian's "nobody").
constexpr uid_t kOtherUid = 65534;
constexpr gid_t kOtherGid = 65534;

TEST(Segment, ASecondUserCannotOpenIt) {
  if (geteuid() != 0) PROCPOOL_SKIP_OUTSIDE_CI("needs root, to become a second user");
  auto seg = Segment::create(1, 4096);
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kOtherGid) != 0 || setuid(kOtherUid) != 0) _exit(3);
    // Through Boost.Interprocess as a child would, and through the plain file.
    try {
      auto attached = Segment::attach(seg->name());
      _exit(1);  // opened: the segment is not private
    } catch (const std::exception&) {
    }
    const int fd = open(("/dev/shm/" + seg->name()).c_str(), O_RDONLY);
    _exit(fd >= 0 ? 2 : (errno == EACCES ? 0 : 4));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: attach worked, 2: open worked, 3: could not switch user";
}

TEST(Segment, AnotherUsersSegmentsAreNeverTouchedBySweeping) {
  if (geteuid() != 0) PROCPOOL_SKIP_OUTSIDE_CI("needs root, to create another user's files");
  // A pid that is surely dead: a child that has exited and been reaped.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  // One with our prefix (a spoof: someone else's file named like ours), one with theirs.
  const std::vector<std::string> names = {segment_prefix() + std::to_string(dead) + "-00000000deadbeef",
                                          "procpool-" + std::to_string(kOtherUid) + "-" + std::to_string(dead) +
                                              "-00000000deadbeef"};
  for (const std::string& name : names) {
    const std::string path = "/dev/shm/" + name;
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(fchown(fd, kOtherUid, kOtherGid), 0);
    close(fd);
  }
  remove_stale_segments();
  for (const std::string& name : names) {
    struct stat st{};
    EXPECT_EQ(stat(("/dev/shm/" + name).c_str(), &st), 0) << name << " was removed";
    unlink(("/dev/shm/" + name).c_str());
  }
}

int main(int argc, char** argv) {
  if (argc == 6 && std::strcmp(argv[1], "--producer") == 0)
    return producer_main(argv[2], std::stoull(argv[3]), std::stoull(argv[4]), std::strcmp(argv[5], "slow") == 0);
  if (argc == 3 && std::strcmp(argv[1], "--claimer") == 0) return claimer_main(argv[2]);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
