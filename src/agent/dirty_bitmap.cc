// Dirty bitmap file format. See dirty_bitmap.h.
#include "agent/dirty_bitmap.h"

#include <cstring>

#include "common/checksum.h"

namespace lifeline::agent {

// magic u32, version u32, block bytes u32, pad u32, block count u64, one byte per block,
// xxh3-64 of everything before it. Little endian.
std::string EncodeDirtyBitmap(const DirtyBitmap& b) {
  std::string raw(kDirtyBitmapHeaderBytes + b.bits.size() + 8, '\0');
  auto* p = reinterpret_cast<uint8_t*>(raw.data());
  PutLE32(p, kDirtyBitmapMagic);
  PutLE32(p + 4, kDirtyBitmapVersion);
  PutLE32(p + 8, b.block_bytes);
  PutLE64(p + 16, b.bits.size());
  if (!b.bits.empty()) std::memcpy(p + kDirtyBitmapHeaderBytes, b.bits.data(), b.bits.size());
  size_t body = kDirtyBitmapHeaderBytes + b.bits.size();
  PutLE64(p + body, Xxh3(p, body));
  return raw;
}

Result<DirtyBitmap> DecodeDirtyBitmap(ByteSpan file) {
  const uint8_t* p = file.data();
  if (file.size() < kDirtyBitmapHeaderBytes + 8)
    return Status::Corruption("dirty bitmap truncated: " + std::to_string(file.size()) + " bytes");
  if (GetLE32(p) != kDirtyBitmapMagic) return Status::Corruption("dirty bitmap: bad magic");
  uint32_t version = GetLE32(p + 4);
  if (version != kDirtyBitmapVersion)
    return Status::Corruption("dirty bitmap: version " + std::to_string(version) +
                              " is not supported");
  if (GetLE32(p + 12) != 0) return Status::Corruption("dirty bitmap: reserved field is not zero");
  DirtyBitmap b;
  b.block_bytes = GetLE32(p + 8);
  uint64_t blocks = GetLE64(p + 16);
  if (b.block_bytes < kMinDirtyBlockBytes || b.block_bytes > kMaxDirtyBlockBytes ||
      (b.block_bytes & (b.block_bytes - 1)) != 0)
    return Status::Corruption("dirty bitmap: block size " + std::to_string(b.block_bytes) +
                              " out of range");
  if (blocks > kMaxDirtyBlocks || file.size() != kDirtyBitmapHeaderBytes + blocks + 8)
    return Status::Corruption("dirty bitmap: " + std::to_string(blocks) +
                              " blocks do not match the file size " + std::to_string(file.size()));
  size_t body = kDirtyBitmapHeaderBytes + size_t(blocks);
  if (GetLE64(p + body) != Xxh3(p, body))
    return Status::Corruption("dirty bitmap: checksum mismatch");
  b.bits.assign(p + kDirtyBitmapHeaderBytes, p + body);
  for (uint8_t v : b.bits)
    if (v > 1)
      return Status::Corruption("dirty bitmap: block flag " + std::to_string(v) +
                                " is neither 0 nor 1");
  return b;
}

}  // namespace lifeline::agent
