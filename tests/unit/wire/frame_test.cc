// Frame format: round trips in any chunking, and every kind of damage is Corruption.
#include "wire/frame.h"

#include <gtest/gtest.h>

#include <random>

#include "common/bytes.h"
#include "common/checksum.h"
#include "wire/messages.h"

namespace lifeline::wire {
namespace {

ByteSpan AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string TwoFrames() {
  return Flatten(Encode(Ack{42})) +
         Flatten(Encode(PointMsg{7, PointKind::kApp, 99, "daily", "g1"}));
}

// Re-seals the header checksum after a test edits a header field, so that the field's own
// check (not the checksum) is what must reject the frame.
void Reseal(std::string* s) {
  auto* h = reinterpret_cast<uint8_t*>(s->data());
  PutLE64(h + 24, Xxh3(h, 24));
}

TEST(FrameTest, RoundTripInEveryChunkSize) {
  std::string bytes = TwoFrames();
  for (size_t chunk = 1; chunk <= bytes.size(); ++chunk) {
    FrameDecoder d;
    std::vector<Frame> frames;
    for (size_t i = 0; i < bytes.size(); i += chunk) {
      size_t n = std::min(chunk, bytes.size() - i);
      ASSERT_TRUE(d.Feed(AsBytes(bytes).subspan(i, n), &frames).ok()) << "chunk " << chunk;
    }
    ASSERT_TRUE(d.Finish().ok());
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(DecodeAck(frames[0])->durable_seq, 42u);
    auto p = DecodePoint(frames[1]);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->label, "daily");
    EXPECT_EQ(p->group_id, "g1");
    EXPECT_EQ(p->kind, PointKind::kApp);
  }
}

TEST(FrameTest, ZeroCopyPathMatchesFeed) {
  auto data = std::make_shared<const std::string>(100000, 'x');
  std::string bytes = Flatten(BuildWrite(5, 4096, data, Codec::kNone, 1));
  FrameDecoder d;
  size_t pos = 0;
  int frames = 0;
  while (pos < bytes.size()) {
    MutableByteSpan next = d.Next();
    ASSERT_FALSE(next.empty());
    size_t n = std::min<size_t>({next.size(), bytes.size() - pos, 777});
    std::memcpy(next.data(), bytes.data() + pos, n);
    pos += n;
    auto done = d.Advance(n);
    ASSERT_TRUE(done.ok());
    if (*done) {
      Frame f = d.TakeFrame();
      auto w = DecodeWrite(f);
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      EXPECT_EQ(w->data, *data);
      ++frames;
    }
  }
  EXPECT_EQ(frames, 1);
}

Status FeedAll(const std::string& bytes, uint32_t max_payload = kMaxPayloadBytes) {
  FrameDecoder d(max_payload);
  std::vector<Frame> frames;
  LL_RETURN_IF_ERROR(d.Feed(AsBytes(bytes), &frames));
  return d.Finish();
}

TEST(FrameTest, BadMagicIsCorruption) {
  std::string s = Flatten(Encode(Ack{1}));
  s[0] ^= 0x55;
  Status st = FeedAll(s);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("magic"), std::string::npos) << st.ToString();
}

TEST(FrameTest, VersionFromTheFutureIsRefusedWithAClearMessage) {
  std::string s = Flatten(Encode(Ack{1}));
  s[4] = char(kProtocolVersion + 1);
  Reseal(&s);
  Status st = FeedAll(s);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("unsupported wire protocol version 2"), std::string::npos)
      << st.ToString();
}

TEST(FrameTest, OversizedLengthIsRefusedBeforeAllocating) {
  std::string s = Flatten(Encode(Ack{1}));
  PutLE32(reinterpret_cast<uint8_t*>(s.data()) + 8, 0xFFFFFFF0u);
  Reseal(&s);
  Status st = FeedAll(s.substr(0, kFrameHeaderBytes));
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("exceeds the limit"), std::string::npos) << st.ToString();
  // A configured lower limit applies too.
  std::string big = Flatten(Encode(HashReply{1, 4096, 0, std::vector<uint64_t>(1000, 7)}));
  EXPECT_TRUE(FeedAll(big).ok());
  EXPECT_EQ(FeedAll(big, 4096).code(), Code::kCorruption);
}

TEST(FrameTest, HeaderChecksumMismatch) {
  std::string s = Flatten(Encode(Ack{1}));
  s[6] ^= 1;  // flags, not re-sealed
  Status st = FeedAll(s);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("header checksum"), std::string::npos) << st.ToString();
}

TEST(FrameTest, PayloadChecksumMismatch) {
  std::string s = Flatten(Encode(Ack{1}));
  s.back() ^= 0x80;
  Status st = FeedAll(s);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("payload checksum"), std::string::npos) << st.ToString();
}

TEST(FrameTest, UnknownTypeAndBadDataOffset) {
  std::string s = Flatten(Encode(Ack{1}));
  s[5] = char(kMaxFrameType + 1);
  Reseal(&s);
  EXPECT_EQ(FeedAll(s).code(), Code::kCorruption);
  s = Flatten(Encode(Ack{1}));
  s[12] = 9;  // data offset beyond the 8-byte payload
  Reseal(&s);
  Status st = FeedAll(s);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("data offset"), std::string::npos) << st.ToString();
}

TEST(FrameTest, TruncatedStreamIsCorruptionAtFinish) {
  std::string s = TwoFrames();
  for (size_t cut : {size_t(1), kFrameHeaderBytes - 1, kFrameHeaderBytes, s.size() - 1}) {
    FrameDecoder d;
    std::vector<Frame> frames;
    ASSERT_TRUE(d.Feed(AsBytes(s).subspan(0, cut), &frames).ok());
    Status st = d.Finish();
    EXPECT_EQ(st.code(), Code::kCorruption) << "cut at " << cut;
    EXPECT_NE(st.message().find("truncated"), std::string::npos);
  }
}

TEST(FrameTest, ErrorIsSticky) {
  std::string s = Flatten(Encode(Ack{1}));
  std::string bad = s;
  bad[0] = 0;
  FrameDecoder d;
  std::vector<Frame> frames;
  EXPECT_FALSE(d.Feed(AsBytes(bad), &frames).ok());
  EXPECT_FALSE(d.Feed(AsBytes(s), &frames).ok());
  EXPECT_TRUE(frames.empty());
  EXPECT_TRUE(d.Next().empty());
}

TEST(FrameTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string s = TwoFrames();
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] ^= char(1 + rng() % 255);
    FrameDecoder d;
    std::vector<Frame> frames;
    Status st = d.Feed(AsBytes(s), &frames);
    // Every byte is covered by a checksum, so any flip is caught (xxh3 collisions aside).
    EXPECT_FALSE(st.ok()) << "seed 1234 iteration " << i;
  }
}

}  // namespace
}  // namespace lifeline::wire
