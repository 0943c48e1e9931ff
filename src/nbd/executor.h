// Executes one validated nbd::Request against its export's backend and encodes the reply
// (simple or structured, as negotiated). Pure with respect to I/O: the caller sends the
// bytes. Thread-safe: any number of requests of one connection may execute concurrently
// (the backend is thread-safe; each call owns its Reply).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nbd/export_registry.h"
#include "nbd/session.h"

namespace lifeline::nbd {

// A reply ready to send: `header` then `size` bytes of `data` (READ payload only).
struct Reply {
  std::string header;
  PooledBuffer data;
  size_t size = 0;
};

struct ExecContext {
  const Export* target = nullptr;
  bool structured = false;
  uint32_t meta_context_id = 0;  // id to put in BLOCK_STATUS chunks
  size_t max_extents = 1024;     // bound on extents per BLOCK_STATUS reply
  BufferPool* pool = nullptr;    // READ buffers; null: plain heap
};

// REQUIRES: `request` came from Session::PopRequest of a session bound to ctx.target.
Reply Execute(Request& request, const ExecContext& ctx);

// Maps a backend failure to an NBD error value (see backend.h).
uint32_t ErrorFromStatus(const Status& s);

}  // namespace lifeline::nbd
