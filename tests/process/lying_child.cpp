// A pool child that breaks the protocol on purpose, for the tests of what a supervisor
// does with a worker whose records cannot be trusted. It starts as a real child does
// (attaches to its slot, takes the kind definitions, says it is ready), then answers its
// first task with the record $PROCPOOL_TEST_LIE names, and waits to be killed:
//   malformed-result   a result record cut short in its header
//   unknown-record     a record of a type no child sends
//   foreign-result     a well-formed result for a task it was never given
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/child_args.hpp"
#include "ipc/records.hpp"
#include "ipc/ring.hpp"
#include "ipc/segment.hpp"

using namespace procpool::ipc;

namespace {

std::string lie_for(std::string_view lie, const TaskHeader& task) {
  if (lie == "unknown-record") return std::string(1, static_cast<char>(0x7f)) + "lie";
  ResultHeader h{};
  h.type = static_cast<uint8_t>(RecordType::Result);
  h.status = static_cast<uint8_t>(Status::ok);
  h.attempt = task.attempt;
  h.task_id = lie == "foreign-result" ? task.task_id + 1000 : task.task_id;
  std::string record(reinterpret_cast<const char*>(&h), sizeof h);
  if (lie == "malformed-result") record.resize(sizeof h / 2);
  return record;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = decode_child_args(argc, argv);
  const char* lie = std::getenv("PROCPOOL_TEST_LIE");
  if (!args || lie == nullptr) return 2;
  const auto segment = Segment::attach(args->segment);
  const SlotView slot = segment->slot(args->slot);
  slot.control->announce(getpid());
  RingConsumer tasks(slot.to_child, slot.to_child_data, slot.ring_capacity);
  RingProducer results(slot.to_sup, slot.to_sup_data, slot.ring_capacity);
  results.set_wake_eventfd(args->wake_fd);
  auto send = [&](const std::string& record) {
    while (!results.try_write(record.data(), record.size())) usleep(1000);
    results.publish();
  };
  // The supervisor wrote every kind definition before starting us (as child/worker.cpp
  // takes them): take them all, then say ready, one task at a time for each.
  std::vector<uint32_t> concurrency;
  std::string_view record;
  while (tasks.peek(&record) == RingConsumer::Read::Record && record_type(record) == RecordType::DefineKind) {
    concurrency.push_back(1);
    tasks.pop();
    tasks.release();
  }
  send(encode_ready(concurrency));
  for (;;) {
    const auto read = tasks.peek(&record);
    if (read == RingConsumer::Read::Corrupt) return 3;
    if (read == RingConsumer::Read::Record) break;
    usleep(1000);
  }
  if (record_type(record) != RecordType::Task) return 4;
  const auto task = decode_task(record);
  if (!task || !slot.control->claim_task(0)) return 5;  // claimed, as a worker does: the task is charged
  send(lie_for(lie, task->header));
  for (;;) pause();  // until the supervisor kills it for what it sent
}
