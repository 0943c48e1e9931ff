// nbd::Backend: the block device an NBD export serves. The server knows nothing of files:
// it validates requests (bounds, read-only, sizes) and then calls these methods.
// Thread-safety: implementations MUST be thread-safe; the server calls every method
// concurrently from several connections and worker threads, on overlapping ranges too.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline::nbd {

// One run of bytes with the same allocation state, as reported for base:allocation.
struct Extent {
  uint64_t length = 0;
  uint32_t flags = 0;  // kStateHole | kStateZero (protocol.h); 0 = allocated data
};

// How WRITE_ZEROES may be carried out.
struct ZeroMode {
  bool may_trim = true;  // no NO_HOLE flag: the range may be deallocated
  bool fast = false;     // FAST_ZERO: fail with FailedPrecondition unless zeroing is cheap
};

// Errors map to NBD error values as follows (server side, executor.cc):
//   NoSpace -> ENOSPC, InvalidArgument -> EINVAL, FailedPrecondition -> ENOTSUP,
//   Unauthenticated -> EPERM, anything else -> EIO.
// The server guarantees before every call: offset + length <= size(), length > 0 (except
// Flush), length <= the advertised maximum for Read/Write, and no mutating call on an
// export registered read-only.
class Backend {
 public:
  virtual ~Backend() = default;

  // Export size in bytes; constant for the backend's lifetime.
  virtual uint64_t size() const = 0;

  // Fills `out` with the bytes at `offset` (holes read as zeros).
  virtual Status Read(uint64_t offset, MutableByteSpan out) = 0;

  // Writes `data` at `offset`. When the call returns OK the write is complete: a later
  // Read on any connection sees it. With `fua` it must also be durable (stable storage)
  // before returning. A wrapping backend may record the write here, in completion order,
  // before the server replies to the client.
  virtual Status Write(uint64_t offset, ByteSpan data, bool fua) = 0;

  // Makes every write that has completed before this call durable.
  virtual Status Flush() = 0;

  // Hint that the range is unused; contents are undefined afterwards until rewritten.
  // Doing nothing is a valid implementation.
  virtual Status Trim(uint64_t offset, uint64_t length, bool fua) = 0;

  // The range must read back as zeros afterwards.
  virtual Status WriteZeroes(uint64_t offset, uint64_t length, ZeroMode mode, bool fua) = 0;

  // Describes [offset, offset + length) as at most `max_extents` extents, in order from
  // `offset`, each with a non-zero length; they may cover less than `length` (the client
  // asks again) but at least one byte. Reporting one data extent (flags 0) is always safe.
  virtual Status BlockStatus(uint64_t offset, uint64_t length, size_t max_extents,
                             std::vector<Extent>* out) = 0;
};

}  // namespace lifeline::nbd
