#pragma once
// `procpool run KIND INPUT... --redis HOST:PORT`: the batch job fanned out over every
// host serving the queue (docs/SCALE_OUT.md). The inputs are gathered as `run` gathers
// them (--input-file, folders, --resume), enqueued in chunks, and gathered back: result
// lines to --results as they arrive, run's summary (with the hosts that answered) at the
// end. Kind options are the hosts' own (their config), so none may be given here.
#include "supervisor/redis/producer.hpp"
#include "supervisor/batch/run.hpp"

namespace procpool::supervisor::redis {

// Exit status as run_batch: 0 all ok, 1 any task not ok, 2 Redis unreachable. Throws
// UsageError (exit status 2) for what a fanned-out run cannot do.
int run_batch_redis(const RunRequest& request, const ProducerSettings& producer);

}  // namespace procpool::supervisor::redis
