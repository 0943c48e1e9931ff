#include "store/image_import.h"

#include "common/checksum.h"

namespace lifeline::store {

Result<ImportReport> ImportImage(DiskReplica* disk, const std::string& image_path, const ImportOptions& options,
                                 FileSystem* fs) {
  if (!fs) fs = FileSystem::Posix();
  if (options.block_bytes < 4096 || options.block_bytes > (4u << 20) || options.block_bytes % 512 != 0)
    return Status::InvalidArgument("block size must be a multiple of 512 between 4 KiB and 4 MiB");
  LL_ASSIGN_OR_RETURN(auto image, fs->Open(image_path, OpenMode::kRead));
  LL_ASSIGN_OR_RETURN(uint64_t size, image->Size());
  if (size != disk->size_bytes())
    return Status::InvalidArgument(image_path + " is " + std::to_string(size) + " bytes but disk " + disk->disk_id() +
                                   " is " + std::to_string(disk->size_bytes()) + ": the disk changed size");
  ImportReport report;
  uint64_t base_seq = disk->durable_seq();
  uint64_t seq = disk->appended_seq();
  const uint64_t kChunk = 4u << 20;
  std::string buf, compressed;
  std::string replica_block(options.block_bytes, '\0');
  for (uint64_t off = 0; off < size; off += kChunk) {
    size_t n = size_t(std::min<uint64_t>(kChunk, size - off));
    buf.resize(n);
    LL_ASSIGN_OR_RETURN(size_t got, image->ReadAt(off, buf.data(), n));
    if (got != n) return Status::IOError(image_path + ": short read at " + std::to_string(off));
    for (size_t b = 0; b < n; b += options.block_bytes) {
      size_t len = std::min<size_t>(options.block_bytes, n - b);
      std::string_view block(buf.data() + b, len);
      ++report.blocks_scanned;
      replica_block.resize(len);
      LL_RETURN_IF_ERROR(disk->ReadAt(base_seq, off + b, replica_block.data(), len));
      if (block == replica_block) continue;
      ++report.blocks_changed;
      WriteRecord r;
      r.seq = ++seq;
      r.offset = off + b;
      r.length = uint32_t(len);
      if (IsAllZero(block.data(), len)) {
        r.kind = RecordKind::kZero;
        ++report.zero_blocks;
      } else if (options.codec != Codec::kNone && Compress(options.codec, block, &compressed)) {
        r.codec = options.codec;
        r.payload = compressed;
      } else {
        r.payload = block;
      }
      report.bytes_stored += r.payload.size();
      LL_RETURN_IF_ERROR(disk->Append(r));
    }
    if (options.progress) options.progress(off + n, size);
  }
  LL_RETURN_IF_ERROR(disk->Sync().status());
  PointRequest req;
  req.kind = options.point_kind;
  req.label = options.label;
  LL_ASSIGN_OR_RETURN(report.point, disk->AddPoint(req));
  return report;
}

}  // namespace lifeline::store
