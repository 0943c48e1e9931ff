// Streams per disk (the seeds' UploadThreadsPerVM): default 4, allowed 1..32. The one
// validation shared by the policy, the CLI, the agent and the HELLO decoder.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace lifeline::wire {

inline constexpr int kDefaultStreamsPerDisk = 4;
inline constexpr int kMinStreamsPerDisk = 1;
inline constexpr int kMaxStreamsPerDisk = 32;

// InvalidArgument naming the allowed range when `count` is outside 1..32.
Status ValidateStreamCount(int64_t count);

}  // namespace lifeline::wire
