#include "wire/streams.h"

#include <string>

namespace lifeline::wire {

Status ValidateStreamCount(int64_t count) {
  if (count < kMinStreamsPerDisk || count > kMaxStreamsPerDisk)
    return Status::InvalidArgument(
        "streams per disk must be between " + std::to_string(kMinStreamsPerDisk) + " and " +
        std::to_string(kMaxStreamsPerDisk) + " (default " + std::to_string(kDefaultStreamsPerDisk) +
        "), got " + std::to_string(count));
  return Status::Ok();
}

}  // namespace lifeline::wire
