#include "common/status.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/checksum.h"

namespace lifeline {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  LL_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Status, CodesAndMessages) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::Corruption("segment 3 offset 40: bad checksum");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.ToString(), "Corruption: segment 3 offset 40: bad checksum");
  EXPECT_EQ(s.WithContext("disk d1").message(), "disk d1: segment 3 offset 40: bad checksum");
  EXPECT_EQ(Status::FromErrno(ENOSPC, "write x").code(), Code::kNoSpace);
  EXPECT_EQ(ExitCodeFor(Code::kNotFound), 10);
  EXPECT_EQ(ExitCodeFor(Code::kUnauthenticated), 12);
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(Bytes, ReaderIsBoundsChecked) {
  std::string buf;
  ByteWriter w(&buf);
  w.U32(7);
  w.U64(0x0102030405060708ull);
  w.Str("hello");
  ByteReader r(buf);
  EXPECT_EQ(r.U32(), 7u);
  EXPECT_EQ(r.U64(), 0x0102030405060708ull);
  EXPECT_EQ(r.Str(100), "hello");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.U8(), 0);
  EXPECT_FALSE(r.ok());
  ByteReader r2(buf);
  r2.U32();
  r2.U64();
  EXPECT_EQ(r2.Str(3), "");  // longer than allowed
  EXPECT_FALSE(r2.ok());
}

TEST(Checksum, Xxh3StreamMatchesOneShot) {
  std::string a = "header-bytes", b = "payload bytes that follow";
  Xxh3Stream s;
  s.Update(a.data(), a.size());
  s.Update(b.data(), b.size());
  EXPECT_EQ(s.Digest(), Xxh3(a + b));
  EXPECT_NE(Xxh3("a"), Xxh3("b"));
}

TEST(Checksum, IsAllZero) {
  std::string z(1000, '\0');
  EXPECT_TRUE(IsAllZero(z.data(), z.size()));
  for (size_t pos : {0u, 63u, 64u, 999u}) {
    std::string nz = z;
    nz[pos] = 1;
    EXPECT_FALSE(IsAllZero(nz.data(), nz.size())) << pos;
  }
}

}  // namespace
}  // namespace lifeline

#include "common/units.h"

namespace lifeline {
namespace {
TEST(Units, TimesDurationsAndSizes) {
  auto t = ParseTime("2026-11-23T10:00:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatTime(*t), "2026-11-23T10:00:00.000Z");
  EXPECT_EQ(*ParseTime("1763892000"), 1763892000LL * 1'000'000'000);
  EXPECT_EQ(*ParseTime("2026-11-23T10:00:00.250Z") - *t, 250'000'000);
  EXPECT_FALSE(ParseTime("yesterday").ok());
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z").ok());
  // Times whose nanoseconds do not fit in 64 bits are refused, not wrapped.
  EXPECT_FALSE(ParseTime("0985-01-01T00:00:04Z").ok());
  EXPECT_FALSE(ParseTime("2263-01-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseTime("999999999999999999").ok());
  EXPECT_TRUE(ParseTime("9223372035").ok());
  EXPECT_EQ(*ParseDurationSeconds("24h"), 86400);
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("7d"), 7 * 86400);
  EXPECT_FALSE(ParseDurationSeconds("3 hours").ok());
  EXPECT_FALSE(ParseDurationSeconds("").ok());
  EXPECT_EQ(*ParseBytes("64K"), 65536u);
  EXPECT_EQ(*ParseBytes("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseBytes("4096"), 4096u);
  EXPECT_FALSE(ParseBytes("lots").ok());
  EXPECT_FALSE(ParseBytes("99999999999999999999T").ok());
  EXPECT_EQ(FormatBytes(1536.0 * 1024 * 1024), "1.50 GiB");
}
}  // namespace
}  // namespace lifeline
