// The dirty bitmap file (<state>/dirty.bitmap, docs/capture.md): which blocks of a disk
// the vault may lack after an agent restart. Pure encode/decode of the format; the file
// is written atomically by CaptureQueue. Decoding never trusts the bytes: a bad magic,
// version, size, block size, flag byte or checksum is Corruption with the reason.
// Value types, pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace lifeline::agent {

inline constexpr uint32_t kDirtyBitmapMagic = 0x4d42444c;  // "LDBM"
inline constexpr uint32_t kDirtyBitmapVersion = 1;
inline constexpr size_t kDirtyBitmapHeaderBytes = 24;
inline constexpr uint32_t kMinDirtyBlockBytes = 512;
inline constexpr uint32_t kMaxDirtyBlockBytes = 1u << 30;
// One byte per block: 16 Mi blocks cover 1 PiB at 64 KiB.
inline constexpr uint64_t kMaxDirtyBlocks = 1ull << 34;

struct DirtyBitmap {
  uint32_t block_bytes = 0;
  std::vector<uint8_t> bits;  // one byte per block: 1 dirty, 0 clean
};

std::string EncodeDirtyBitmap(const DirtyBitmap& bitmap);
Result<DirtyBitmap> DecodeDirtyBitmap(ByteSpan file);

}  // namespace lifeline::agent
