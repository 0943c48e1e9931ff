#include "store/format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "store/manifest.h"

namespace lifeline::store {
namespace {

TEST(Format, RecordHeaderRoundTrip) {
  RecordHeader h;
  h.kind = RecordKind::kData;
  h.codec = 2;
  h.seq = 42;
  h.offset = 1 << 20;
  h.length = 65536;
  h.payload_size = 1000;
  h.time_unix_ns = 123456789;
  h.data_hash = 0xabcdef;
  h.payload_checksum = 0x1234;
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  RecordHeader back;
  ASSERT_TRUE(DecodeRecordHeader(buf, &back).ok());
  EXPECT_EQ(back.seq, 42u);
  EXPECT_EQ(back.offset, 1u << 20);
  EXPECT_EQ(back.length, 65536u);
  EXPECT_EQ(back.payload_size, 1000u);
  EXPECT_EQ(back.data_hash, 0xabcdefu);
}

TEST(Format, RecordHeaderRejectsDamage) {
  RecordHeader h;
  h.seq = 1;
  h.length = 4096;
  h.payload_size = 4096;
  uint8_t buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  RecordHeader back;
  for (size_t i = 0; i < kRecordHeaderSize; ++i) {
    uint8_t copy[kRecordHeaderSize];
    std::memcpy(copy, buf, sizeof copy);
    copy[i] ^= 0x10;
    EXPECT_EQ(DecodeRecordHeader(copy, &back).code(), Code::kCorruption) << "byte " << i;
  }
  // Well-formed checksums around insane fields are still refused.
  h.length = kMaxRecordBytes + 1;
  EncodeRecordHeader(h, buf);
  EXPECT_FALSE(DecodeRecordHeader(buf, &back).ok());
  h.length = 4096;
  h.kind = RecordKind::kZero;  // zero records carry no payload
  EncodeRecordHeader(h, buf);
  EXPECT_FALSE(DecodeRecordHeader(buf, &back).ok());
}

TEST(Format, ManifestRoundTripAndErrors) {
  Manifest m;
  m.disk_id = "d1";
  m.size_bytes = 1 << 20;
  m.segments = {{3}, {5}};
  RecoveryPoint p;
  p.id = 7;
  p.seq = 9;
  p.kind = PointKind::kApp;
  p.label = "before upgrade";
  p.tags = {"tested at x"};
  m.points.push_back(p);
  std::string file = EncodeManifest(m);
  auto back = DecodeManifest(file, "MANIFEST");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->disk_id, "d1");
  ASSERT_EQ(back->segments.size(), 2u);
  EXPECT_EQ(back->segments[1].number, 5u);
  ASSERT_EQ(back->points.size(), 1u);
  EXPECT_EQ(back->points[0].label, "before upgrade");
  EXPECT_EQ(back->points[0].kind, PointKind::kApp);

  std::string flipped = file;
  flipped[flipped.size() - 3] ^= 1;
  EXPECT_EQ(DecodeManifest(flipped, "M").status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeManifest(file.substr(0, 10), "M").status().code(), Code::kCorruption);
  std::string newer = file;
  newer[4] = 9;  // format version 9
  auto s = DecodeManifest(newer, "M").status();
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("newer lifeline"), std::string::npos) << s.message();
  std::string not_json = EncodeManifestFile("{\"disk_id\": 3}");
  EXPECT_EQ(DecodeManifest(not_json, "M").status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace lifeline::store
