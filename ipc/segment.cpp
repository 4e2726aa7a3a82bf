#include "ipc/segment.hpp"

#include "ipc/process_tree.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

#include "ipc/clock.hpp"

namespace bip = boost::interprocess;

namespace procpool::ipc {

const char* child_state_name(ChildState s) {
  switch (s) {
    case ChildState::Empty: return "empty";
    case ChildState::Starting: return "starting";
    case ChildState::Ready: return "ready";
    case ChildState::Exiting: return "exiting";
    case ChildState::Retired: return "retired";
  }
  return "unknown";
}

struct Segment::Mapping {
  bip::shared_memory_object shm;
  bip::mapped_region region;
};

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }
constexpr uint64_t kStatsOffset = round_up(sizeof(SegmentHeader), kCacheLine);

std::string random_hex(std::size_t bytes) {
  unsigned char buf[16];
  if (bytes > sizeof buf || getrandom(buf, bytes, 0) != static_cast<ssize_t>(bytes))
    throw std::runtime_error("getrandom failed: " + std::string(std::strerror(errno)));
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    out += digits[buf[i] >> 4];
    out += digits[buf[i] & 15];
  }
  return out;
}
}  // namespace

std::string segment_prefix() { return "procpool-" + std::to_string(getuid()) + "-"; }

Segment::Segment(std::string name, std::unique_ptr<Mapping> mapping, bool owner)
    : name_(std::move(name)), mapping_(std::move(mapping)),
      base_(mapping_->region.get_address()), owner_(owner) {}

std::unique_ptr<Segment> Segment::create(uint32_t slot_count, uint64_t ring_capacity, std::string_view containment) {
  if (slot_count == 0 || (ring_capacity & (ring_capacity - 1)) != 0 || ring_capacity < 4096)
    throw std::invalid_argument("segment: bad slot count or ring capacity");
  const uint64_t slots_offset = round_up(kStatsOffset + sizeof(PoolStats), kPage);
  const uint64_t stride = round_up(sizeof(SlotBlock), kPage) + 2 * ring_capacity;
  const uint64_t total = slots_offset + stride * slot_count;

  // The name carries the uid (stale-segment sweeps touch only our own), the pid (a sweep
  // can tell whether the creator lives) and 64 random bits (nobody can pre-create it).
  const std::string name = segment_prefix() + std::to_string(getpid()) + "-" + random_hex(8);
  auto mapping = std::make_unique<Mapping>();
  bip::permissions owner_only(0600);
  mapping->shm = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, owner_only);
  try {
    mapping->shm.truncate(static_cast<bip::offset_t>(total));
    mapping->region = bip::mapped_region(mapping->shm, bip::read_write);
  } catch (...) {
    bip::shared_memory_object::remove(name.c_str());
    throw;
  }
  auto seg = std::unique_ptr<Segment>(new Segment(name, std::move(mapping), true));

  // Value-initialised by the placement new: cppcheck 2.10 misreads it as uninitialised.
  // cppcheck-suppress legacyUninitvar
  auto* header = new (seg->base_) SegmentHeader{};
  header->layout_version = kLayoutVersion;
  header->slot_count = slot_count;
  header->ring_capacity = ring_capacity;
  header->slot_stride = stride;
  header->slots_offset = slots_offset;
  header->total_size = total;
  header->supervisor_pid = static_cast<uint64_t>(getpid());
  header->created_ns = monotonic_ns();
  const std::size_t n = std::min(containment.size(), sizeof header->containment - 1);
  std::memcpy(header->containment, containment.data(), n);
  new (static_cast<std::byte*>(seg->base_) + kStatsOffset) PoolStats{};
  for (uint32_t i = 0; i < slot_count; ++i) {
    // cppcheck-suppress legacyUninitvar
    auto* block = new (static_cast<std::byte*>(seg->base_) + slots_offset + i * stride) SlotBlock{};
    ring_reset(&block->to_child);
    ring_reset(&block->to_sup);
  }
  // Last, with release: pairs with attach()'s acquire load, so an observer that finds the
  // magic finds every header field, the stats and the slots initialised.
  std::atomic_ref<uint64_t>(header->magic).store(kSegmentMagic, std::memory_order_release);
  return seg;
}

std::unique_ptr<Segment> Segment::attach(const std::string& name, bool read_only) {
  const auto mode = read_only ? bip::read_only : bip::read_write;
  auto mapping = std::make_unique<Mapping>();
  mapping->shm = bip::shared_memory_object(bip::open_only, name.c_str(), mode);
  bip::offset_t size = 0;
  if (!mapping->shm.get_size(size) || static_cast<uint64_t>(size) < sizeof(SegmentHeader))
    throw std::runtime_error("segment " + name + " is too small");
  mapping->region = bip::mapped_region(mapping->shm, mode);
  auto seg = std::unique_ptr<Segment>(new Segment(name, std::move(mapping), false));
  const SegmentHeader& h = seg->header();
  // Acquire: pairs with create()'s release store of the magic (a segment still being
  // made reads as not yet ours, never as half a header).
  const uint64_t magic = std::atomic_ref<uint64_t>(const_cast<uint64_t&>(h.magic)).load(std::memory_order_acquire);
  const uint64_t min_stride = sizeof(SlotBlock) + 2 * h.ring_capacity;
  if (magic != kSegmentMagic || h.layout_version != kLayoutVersion || h.slot_count == 0 ||
      h.total_size != static_cast<uint64_t>(size) || h.slot_stride < min_stride ||
      h.slots_offset < kStatsOffset + sizeof(PoolStats) ||
      h.slots_offset + h.slot_stride * h.slot_count > h.total_size)
    throw std::runtime_error("segment " + name + " has an unknown or inconsistent layout");
  return seg;
}

Segment::~Segment() {
  if (owner_) bip::shared_memory_object::remove(name_.c_str());
}

PoolStats& Segment::stats() const {
  return *reinterpret_cast<PoolStats*>(static_cast<std::byte*>(base_) + kStatsOffset);
}

SlotView Segment::slot(uint32_t index) const {
  const SegmentHeader& h = header();
  if (index >= h.slot_count) throw std::out_of_range("segment: slot index out of range");
  auto* start = static_cast<std::byte*>(base_) + h.slots_offset + index * h.slot_stride;
  auto* block = reinterpret_cast<SlotBlock*>(start);
  std::byte* data = start + round_up(sizeof(SlotBlock), kPage);
  return SlotView{&block->control, &block->to_child, &block->to_sup, data,
                  data + h.ring_capacity, h.ring_capacity};
}

int remove_stale_segments() {
  const std::string prefix = segment_prefix();
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return 0;
  int removed = 0;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(rest.c_str(), &end, 10);
    if (end != rest.c_str() + dash || pid <= 0) continue;
    struct stat st{};
    if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_uid != getuid() || !S_ISREG(st.st_mode)) continue;  // never another user's
    if (process_lives(static_cast<pid_t>(pid))) continue;
    if (bip::shared_memory_object::remove(name.c_str())) ++removed;
  }
  closedir(dir);
  return removed;
}

}  // namespace procpool::ipc
