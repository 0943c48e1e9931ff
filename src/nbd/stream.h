// Byte streams under an NBD connection: a plain socket, and (tls_stream.h) TLS over one.
// Thread-safety: for a stream with concurrent() true, one reader and one writer may run
// at the same time on different threads; Shutdown() may be called from any thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline::nbd {

class Stream {
 public:
  virtual ~Stream() = default;
  // Reads at least one byte into `buf`; 0 means the peer closed (or Shutdown ran).
  virtual Result<size_t> Read(MutableByteSpan buf) = 0;
  // Writes all the bytes of the iovecs.
  virtual Status Write(const iovec* iov, int count) = 0;
  // Unblocks readers and writers; later calls fail or see end of stream.
  virtual void Shutdown() = 0;
  // True if Read and Write may run concurrently on two threads.
  virtual bool concurrent() const = 0;
};

// A connected socket (TCP or Unix). Owns the descriptor.
class SocketStream final : public Stream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  Result<size_t> Read(MutableByteSpan buf) override;
  Status Write(const iovec* iov, int count) override;
  void Shutdown() override;
  bool concurrent() const override { return true; }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace lifeline::nbd
