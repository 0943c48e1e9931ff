// The agent's state files are untrusted after a crash: the dirty bitmap and spill record
// decoders refuse every damaged input with Corruption (truncated, bad magic, version,
// checksum, lengths and kinds out of range) and accept what the encoders wrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/dirty_bitmap.h"
#include "agent/spill.h"
#include "common/checksum.h"

namespace lifeline::agent {
namespace {

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Recomputes the trailing xxh3 so a test reaches the checks behind the checksum.
std::string Reseal(std::string s) {
  auto* p = reinterpret_cast<uint8_t*>(s.data());
  PutLE64(p + s.size() - 8, Xxh3(p, s.size() - 8));
  return s;
}

TEST(DirtyBitmapFormatTest, RoundTrip) {
  DirtyBitmap b{65536, {0, 1, 1, 0, 1}};
  std::string raw = EncodeDirtyBitmap(b);
  auto d = DecodeDirtyBitmap(Span(raw));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->block_bytes, 65536u);
  EXPECT_EQ(d->bits, b.bits);
  auto empty = DecodeDirtyBitmap(Span(EncodeDirtyBitmap(DirtyBitmap{4096, {}})));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->bits.empty());
}

TEST(DirtyBitmapFormatTest, DamagedFilesAreCorruption) {
  std::string good = EncodeDirtyBitmap(DirtyBitmap{65536, {0, 1, 1, 0, 1}});
  auto bad = [](const std::string& s) { return DecodeDirtyBitmap(Span(s)).status().code(); };
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(bad(good.substr(0, n)), Code::kCorruption) << "truncated to " << n;
  std::string magic = good;
  magic[1] ^= 0x10;
  EXPECT_EQ(bad(Reseal(magic)), Code::kCorruption);
  std::string version = good;
  PutLE32(reinterpret_cast<uint8_t*>(version.data()) + 4, 2);
  auto v = DecodeDirtyBitmap(Span(Reseal(version)));
  EXPECT_EQ(v.status().code(), Code::kCorruption);
  EXPECT_NE(v.status().message().find("version 2"), std::string::npos);
  std::string sum = good;
  sum[25] ^= 1;
  EXPECT_EQ(bad(sum), Code::kCorruption);
  for (uint32_t block : {0u, 100u, 256u, 3u << 20, 0x80000000u}) {
    std::string bs = good;
    PutLE32(reinterpret_cast<uint8_t*>(bs.data()) + 8, block);
    EXPECT_EQ(bad(Reseal(bs)), Code::kCorruption) << block;
  }
  for (uint64_t count : {uint64_t(4), uint64_t(6), uint64_t(1) << 40, ~uint64_t(0)}) {
    std::string c = good;
    PutLE64(reinterpret_cast<uint8_t*>(c.data()) + 16, count);
    EXPECT_EQ(bad(Reseal(c)), Code::kCorruption) << count;
  }
  std::string pad = good;
  pad[12] = 1;
  EXPECT_EQ(bad(Reseal(pad)), Code::kCorruption);
  std::string flag = good;
  flag[24] = 2;
  EXPECT_EQ(bad(Reseal(flag)), Code::kCorruption);
}

std::string EncodeRecord(const CaptureRecord& r) {
  std::string path = ::testing::TempDir() + "/spill-format-" + std::to_string(::getpid());
  auto spill = std::move(SpillFile::Create(path, 1u << 20)).value();
  EXPECT_TRUE(spill->Append(r).ok());
  auto f = std::move(FileSystem::Posix()->Open(path, OpenMode::kRead)).value();
  std::string raw(SpillFile::EncodedBytes(r), '\0');
  EXPECT_EQ(*f->ReadAt(0, raw.data(), raw.size()), raw.size());
  (void)FileSystem::Posix()->Remove(path);
  return raw;
}

CaptureRecord Write() {
  CaptureRecord r;
  r.seq = 9;
  r.offset = 8192;
  r.length = 5;
  r.data = std::make_shared<const std::string>("hello");
  r.time_ns = 77;
  return r;
}

TEST(SpillRecordFormatTest, RoundTrip) {
  std::string raw = EncodeRecord(Write());
  CaptureRecord out;
  auto n = DecodeSpillRecord(Span(raw + "trailing"), &out);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, raw.size());
  EXPECT_EQ(out.seq, 9u);
  EXPECT_EQ(out.offset, 8192u);
  EXPECT_EQ(*out.data, "hello");
  CaptureRecord p;
  p.type = CaptureRecord::Type::kPoint;
  p.point_kind = wire::PointKind::kGroup;
  p.seq = 9;
  p.label = "l";
  p.group_id = "g";
  std::string praw = EncodeRecord(p);
  ASSERT_TRUE(DecodeSpillRecord(Span(praw), &out).ok());
  EXPECT_EQ(out.group_id, "g");
  EXPECT_EQ(out.point_kind, wire::PointKind::kGroup);
}

TEST(SpillRecordFormatTest, DamagedRecordsAreCorruption) {
  std::string good = EncodeRecord(Write());
  auto bad = [](const std::string& s) {
    CaptureRecord out;
    return DecodeSpillRecord(Span(s), &out).status().code();
  };
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(bad(good.substr(0, n)), Code::kCorruption) << "truncated to " << n;
  auto patched = [&](size_t at, uint64_t v, int bytes) {
    std::string s = good;
    auto* p = reinterpret_cast<uint8_t*>(s.data()) + at;
    if (bytes == 1) *p = uint8_t(v);
    if (bytes == 2) PutLE16(p, uint16_t(v));
    if (bytes == 4) PutLE32(p, uint32_t(v));
    if (bytes == 8) PutLE64(p, v);
    return Reseal(s);
  };
  EXPECT_EQ(bad(patched(0, 0x12345678, 4)), Code::kCorruption);         // magic
  EXPECT_EQ(bad(patched(4, 0xffffffff, 4)), Code::kCorruption);         // payload length
  EXPECT_EQ(bad(patched(4, 4, 4)), Code::kCorruption);                  // payload != length
  EXPECT_EQ(bad(patched(16, 0, 4)), Code::kCorruption);                 // zero pieces
  EXPECT_EQ(bad(patched(20, 2, 1)), Code::kCorruption);                 // type
  EXPECT_EQ(bad(patched(21, 3, 1)), Code::kCorruption);                 // write kind
  EXPECT_EQ(bad(patched(22, 4, 1)), Code::kCorruption);                 // point kind
  EXPECT_EQ(bad(patched(23, 1, 1)), Code::kCorruption);                 // reserved
  EXPECT_EQ(bad(patched(24, ~uint64_t(0) - 2, 8)), Code::kCorruption);  // offset + length overflows
  EXPECT_EQ(bad(patched(48, 60000, 2)), Code::kCorruption);             // label length
  EXPECT_EQ(bad(patched(50, 1000, 2)), Code::kCorruption);              // group length
  std::string sum = good;
  sum[sum.size() - 9] ^= 1;  // a payload byte
  EXPECT_EQ(bad(sum), Code::kCorruption);
}

}  // namespace
}  // namespace lifeline::agent
