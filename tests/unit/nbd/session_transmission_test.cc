// Transmission phase: request framing and validation by nbd::Session, execution and reply
// encoding by nbd::Execute over a MemoryBackend, including every malformed request.
#include <gtest/gtest.h>

#include <memory>

#include "nbd/executor.h"
#include "nbd/memory_backend.h"
#include "nbd_test_util.h"

namespace lifeline::nbd {
namespace {

using namespace lifeline::nbd::testing;

constexpr uint64_t kDiskBytes = 1 << 20;

struct SimpleReplyView {
  uint32_t magic = 0, error = 0;
  uint64_t handle = 0;
};
SimpleReplyView ParseSimple(const std::string& h) {
  BeReader r(h);
  SimpleReplyView v{r.U32(), r.U32(), r.U64()};
  return v;
}
struct ChunkView {
  uint32_t magic = 0;
  uint16_t flags = 0, type = 0;
  uint64_t handle = 0;
  uint32_t length = 0;
  std::string rest;
};
ChunkView ParseChunk(const std::string& h) {
  BeReader r(h);
  ChunkView c{r.U32(), r.U16(), r.U16(), r.U64(), r.U32(), ""};
  c.rest = std::string(r.Bytes(r.remaining()));
  return c;
}

// A backend whose every call fails with an I/O error.
class BrokenBackend final : public Backend {
 public:
  uint64_t size() const override { return kDiskBytes; }
  Status Read(uint64_t, MutableByteSpan) override { return Status::IOError("broken"); }
  Status Write(uint64_t, ByteSpan, bool) override { return Status::NoSpace("full"); }
  Status Flush() override { return Status::IOError("broken"); }
  Status Trim(uint64_t, uint64_t, bool) override { return Status::IOError("broken"); }
  Status WriteZeroes(uint64_t, uint64_t, ZeroMode, bool) override {
    return Status::FailedPrecondition("slow");
  }
  Status BlockStatus(uint64_t, uint64_t, size_t, std::vector<Extent>*) override {
    return Status::IOError("broken");
  }
};

class TransmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = std::make_shared<MemoryBackend>(kDiskBytes);
    ASSERT_TRUE(registry_.Add({"", "", disk_, false}).ok());
    ASSERT_TRUE(registry_.Add({"ro", "", std::make_shared<MemoryBackend>(kDiskBytes), true}).ok());
    ASSERT_TRUE(registry_.Add({"broken", "", std::make_shared<BrokenBackend>(), false}).ok());
  }
  // Negotiates with GO on `name`; structured replies and base:allocation if asked.
  void Connect(const std::string& name, bool structured, bool meta = false) {
    SessionConfig cfg;
    cfg.registry = &registry_;
    cfg.limits.max_payload_bytes = 64 << 10;
    cfg.limits.drain_limit_bytes = 128 << 10;
    session_ = std::make_unique<Session>(cfg);
    session_->Start();
    std::string opts = ClientFlags();
    if (structured) opts += Option(kOptStructuredReply);
    if (meta) opts += Option(kOptSetMetaContext, MetaData(name, {kBaseAllocation}));
    opts += Option(kOptGo, GoData(name));
    std::vector<Request> reqs;
    FeedAll(*session_, opts, &reqs);
    ASSERT_EQ(session_->phase(), Session::Phase::kTransmission);
    session_->TakeOutput();
    ctx_.target = session_->bound_export().get();
    ctx_.structured = session_->structured_replies();
    ctx_.meta_context_id = session_->meta_context_id();
  }
  // Feeds bytes and executes every request; returns the replies in order.
  std::vector<Reply> Send(const std::string& bytes) {
    std::vector<Request> reqs;
    FeedAll(*session_, bytes, &reqs);
    std::vector<Reply> replies;
    for (auto& q : reqs) replies.push_back(Execute(q, ctx_));
    return replies;
  }
  uint32_t ErrorOf(const Reply& r) {
    if (ctx_.structured && ParseChunk(r.header).magic == kStructuredReplyMagic) {
      ChunkView c = ParseChunk(r.header);
      EXPECT_EQ(c.type, kReplyTypeError);
      EXPECT_TRUE(c.flags & kReplyFlagDone);
      return BeReader(c.rest).U32();
    }
    SimpleReplyView v = ParseSimple(r.header);
    EXPECT_EQ(v.magic, kSimpleReplyMagic);
    return v.error;
  }

  ExportRegistry registry_;
  std::shared_ptr<MemoryBackend> disk_;
  std::unique_ptr<Session> session_;
  ExecContext ctx_;
};

TEST_F(TransmissionTest, WriteThenReadSimple) {
  Connect("", false);
  std::string data(4096, '\x5a');
  auto replies = Send(RequestBytes(kCmdWrite, 7, 8192, 4096) + data +
                      RequestBytes(kCmdRead, 8, 8192, 4096));
  ASSERT_EQ(replies.size(), 2u);
  SimpleReplyView w = ParseSimple(replies[0].header);
  EXPECT_EQ(w.magic, kSimpleReplyMagic);
  EXPECT_EQ(w.error, 0u);
  EXPECT_EQ(w.handle, 7u);
  EXPECT_EQ(replies[0].size, 0u);
  SimpleReplyView r = ParseSimple(replies[1].header);
  EXPECT_EQ(r.handle, 8u);
  ASSERT_EQ(replies[1].size, 4096u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(replies[1].data.get()), 4096), data);
  EXPECT_EQ(disk_->Snapshot()[8192], 0x5a);
}

TEST_F(TransmissionTest, StructuredReadIsOneOffsetDataChunk) {
  Connect("", true);
  auto replies = Send(RequestBytes(kCmdRead, 9, 100, 50, kCmdFlagDf));
  ASSERT_EQ(replies.size(), 1u);
  ChunkView c = ParseChunk(replies[0].header);
  EXPECT_EQ(c.magic, kStructuredReplyMagic);
  EXPECT_EQ(c.type, kReplyTypeOffsetData);
  EXPECT_EQ(c.flags, kReplyFlagDone);
  EXPECT_EQ(c.handle, 9u);
  EXPECT_EQ(c.length, 8u + 50u);
  EXPECT_EQ(BeReader(c.rest).U64(), 100u);
  EXPECT_EQ(replies[0].size, 50u);
}

TEST_F(TransmissionTest, FuaAndFlushReachTheBackend) {
  Connect("", false);
  auto replies = Send(RequestBytes(kCmdWrite, 1, 0, 512, kCmdFlagFua) + std::string(512, 'a') +
                      RequestBytes(kCmdFlush, 2, 0, 0) +
                      RequestBytes(kCmdFlush, 3, 0, 0, kCmdFlagFua));
  ASSERT_EQ(replies.size(), 3u);
  for (auto& r : replies) EXPECT_EQ(ErrorOf(r), 0u);
  EXPECT_EQ(disk_->fua_writes(), 1);
  EXPECT_EQ(disk_->flushes(), 2);
}

TEST_F(TransmissionTest, BadRequestMagicCloses) {
  Connect("", false);
  auto replies = Send(RequestBytes(kCmdRead, 1, 0, 512, 0, 0xdeadbeef) +
                      RequestBytes(kCmdRead, 2, 0, 512));
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(session_->phase(), Session::Phase::kClosed);
  EXPECT_FALSE(session_->close_reason().empty());
}

TEST_F(TransmissionTest, UnknownCommandAndFlagsAreEinval) {
  Connect("", false);
  auto replies = Send(RequestBytes(99, 1, 0, 0) + RequestBytes(kCmdRead, 2, 0, 512, 1 << 9) +
                      RequestBytes(kCmdRead, 3, 0, 512, kCmdFlagDf) +  // DF needs structured
                      RequestBytes(kCmdFlush, 4, 0, 0, kCmdFlagNoHole) +
                      RequestBytes(kCmdRead, 5, 0, 512));
  ASSERT_EQ(replies.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ErrorOf(replies[i]), kEInval) << i;
  EXPECT_EQ(ErrorOf(replies[4]), 0u);  // still in frame
}

TEST_F(TransmissionTest, OutOfRangeRequests) {
  Connect("", true, true);
  const uint64_t kHuge = ~uint64_t(0) - 10;  // offset + length overflows
  auto replies = Send(
      RequestBytes(kCmdRead, 1, kDiskBytes - 100, 200) +
      RequestBytes(kCmdRead, 2, kHuge, 512) +
      RequestBytes(kCmdWrite, 3, kDiskBytes, 512) + std::string(512, 'x') +
      RequestBytes(kCmdWrite, 4, kHuge, 16) + std::string(16, 'y') +
      RequestBytes(kCmdTrim, 5, kDiskBytes - 1, 2) +
      RequestBytes(kCmdWriteZeroes, 6, kDiskBytes - 1, 2) +
      RequestBytes(kCmdBlockStatus, 7, kDiskBytes, 1) +
      RequestBytes(kCmdCache, 8, kHuge, 100) +
      RequestBytes(kCmdRead, 9, kDiskBytes - 512, 512));
  ASSERT_EQ(replies.size(), 9u);
  EXPECT_EQ(ErrorOf(replies[0]), kEInval);
  EXPECT_EQ(ErrorOf(replies[1]), kEInval);
  EXPECT_EQ(ErrorOf(replies[2]), kENoSpc);
  EXPECT_EQ(ErrorOf(replies[3]), kENoSpc);
  EXPECT_EQ(ErrorOf(replies[4]), kEInval);
  EXPECT_EQ(ErrorOf(replies[5]), kENoSpc);
  EXPECT_EQ(ErrorOf(replies[6]), kEInval);
  EXPECT_EQ(ErrorOf(replies[7]), kEInval);
  EXPECT_EQ(ParseChunk(replies[8].header).type, kReplyTypeOffsetData);  // exactly at the end
  std::vector<uint8_t> snap = disk_->Snapshot();
  EXPECT_EQ(std::count(snap.begin(), snap.end(), 0), long(kDiskBytes));  // nothing written
}

TEST_F(TransmissionTest, ZeroLengthRequestsAreEinval) {
  Connect("", false);
  auto replies = Send(RequestBytes(kCmdRead, 1, 0, 0) + RequestBytes(kCmdWrite, 2, 0, 0) +
                      RequestBytes(kCmdTrim, 3, 0, 0) + RequestBytes(kCmdWriteZeroes, 4, 0, 0) +
                      RequestBytes(kCmdRead, 5, 0, 1));
  ASSERT_EQ(replies.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ErrorOf(replies[i]), kEInval) << i;
  EXPECT_EQ(ErrorOf(replies[4]), 0u);
}

TEST_F(TransmissionTest, OversizedRequests) {
  Connect("", true);
  uint32_t max = 64 << 10;
  auto replies = Send(RequestBytes(kCmdRead, 1, 0, max + 1) +
                      RequestBytes(kCmdRead, 2, 0, max + 1, kCmdFlagDf) +
                      RequestBytes(kCmdWrite, 3, 0, max + 1) + std::string(max + 1, 'z') +
                      RequestBytes(kCmdRead, 4, 0, max));
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(ErrorOf(replies[0]), kEInval);
  EXPECT_EQ(ErrorOf(replies[1]), kEOverflow);
  EXPECT_EQ(ErrorOf(replies[2]), kEInval);  // payload drained, still in frame
  EXPECT_EQ(ParseChunk(replies[3].header).type, kReplyTypeOffsetData);
  EXPECT_EQ(disk_->Snapshot()[0], 0);

  // A payload beyond the drain limit ends the connection instead.
  replies = Send(RequestBytes(kCmdWrite, 5, 0, 1u << 30));
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(session_->phase(), Session::Phase::kClosed);
}

TEST_F(TransmissionTest, ReadOnlyExportRefusesChanges) {
  Connect("ro", false);
  EXPECT_TRUE(session_->transmission_flags() & kTxReadOnly);
  auto replies = Send(RequestBytes(kCmdWrite, 1, 0, 512) + std::string(512, 'w') +
                      RequestBytes(kCmdTrim, 2, 0, 512) +
                      RequestBytes(kCmdWriteZeroes, 3, 0, 512) +
                      RequestBytes(kCmdRead, 4, 0, 512) + RequestBytes(kCmdFlush, 5, 0, 0));
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(ErrorOf(replies[0]), kEPerm);
  EXPECT_EQ(ErrorOf(replies[1]), kEPerm);
  EXPECT_EQ(ErrorOf(replies[2]), kEPerm);
  EXPECT_EQ(ErrorOf(replies[3]), 0u);
  EXPECT_EQ(ErrorOf(replies[4]), 0u);
}

TEST_F(TransmissionTest, WriteZeroesAndTrimReadBackZero) {
  Connect("", false);
  auto replies = Send(RequestBytes(kCmdWrite, 1, 0, 16384) + std::string(16384, '\xff') +
                      RequestBytes(kCmdWriteZeroes, 2, 100, 1000, kCmdFlagNoHole) +
                      RequestBytes(kCmdWriteZeroes, 3, 4096, 4096, kCmdFlagFastZero) +
                      RequestBytes(kCmdTrim, 4, 8192, 4096));
  ASSERT_EQ(replies.size(), 4u);
  for (auto& r : replies) EXPECT_EQ(ErrorOf(r), 0u);
  auto snap = disk_->Snapshot();
  EXPECT_EQ(snap[99], 0xff);
  EXPECT_EQ(snap[100], 0);
  EXPECT_EQ(snap[1099], 0);
  EXPECT_EQ(snap[1100], 0xff);
  EXPECT_EQ(snap[4096], 0);
  EXPECT_EQ(snap[12287], 0);
  EXPECT_EQ(snap[12288], 0xff);
}

TEST_F(TransmissionTest, BlockStatusReportsHolesAndData) {
  Connect("", true, true);
  auto replies = Send(RequestBytes(kCmdWrite, 1, 8192, 4096) + std::string(4096, 'd') +
                      RequestBytes(kCmdBlockStatus, 2, 0, 16384) +
                      RequestBytes(kCmdBlockStatus, 3, 0, 16384, kCmdFlagReqOne));
  ASSERT_EQ(replies.size(), 3u);
  ChunkView c = ParseChunk(replies[1].header);
  EXPECT_EQ(c.type, kReplyTypeBlockStatus);
  EXPECT_EQ(c.flags, kReplyFlagDone);
  ASSERT_EQ(c.length, 4u + 3 * 8u);
  BeReader r(c.rest);
  EXPECT_EQ(r.U32(), Session::kBaseAllocationId);
  EXPECT_EQ(r.U32(), 8192u);
  EXPECT_EQ(r.U32(), kStateHole | kStateZero);
  EXPECT_EQ(r.U32(), 4096u);
  EXPECT_EQ(r.U32(), 0u);
  EXPECT_EQ(r.U32(), 4096u);
  EXPECT_EQ(r.U32(), kStateHole | kStateZero);
  ChunkView one = ParseChunk(replies[2].header);
  EXPECT_EQ(one.length, 4u + 8u);
}

TEST_F(TransmissionTest, BlockStatusWithoutContextIsEinval) {
  Connect("", true, false);
  auto replies = Send(RequestBytes(kCmdBlockStatus, 1, 0, 4096));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(ErrorOf(replies[0]), kEInval);
}

TEST_F(TransmissionTest, BackendFailuresBecomeErrorReplies) {
  Connect("broken", true, true);
  auto replies = Send(RequestBytes(kCmdRead, 1, 0, 512) +
                      RequestBytes(kCmdWrite, 2, 0, 4) + "abcd" +
                      RequestBytes(kCmdWriteZeroes, 3, 0, 512, kCmdFlagFastZero) +
                      RequestBytes(kCmdFlush, 4, 0, 0) +
                      RequestBytes(kCmdBlockStatus, 5, 0, 512));
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(ErrorOf(replies[0]), kEIo);
  EXPECT_EQ(replies[0].size, 0u);  // no data after an error chunk
  EXPECT_EQ(ErrorOf(replies[1]), kENoSpc);
  EXPECT_EQ(ErrorOf(replies[2]), kENotSup);
  EXPECT_EQ(ErrorOf(replies[3]), kEIo);
  EXPECT_EQ(ErrorOf(replies[4]), kEIo);
}

// A disk that fails every request (or an export fenced for a planned failover) gets an error
// reply for each, but the log gets one line per 10 s, not one per request.
TEST_F(TransmissionTest, RepeatedFailuresAreLoggedOnceNotPerRequest) {
  Connect("broken", false);
  std::string bytes;
  for (uint64_t h = 1; h <= 50; ++h) bytes += RequestBytes(kCmdWrite, h, 0, 4) + "abcd";
  ::testing::internal::CaptureStderr();
  auto replies = Send(bytes);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(replies.size(), 50u);
  for (const auto& r : replies) EXPECT_EQ(ErrorOf(r), kENoSpc);
  size_t lines = 0;
  for (size_t pos = log.find("write failed"); pos != std::string::npos; pos = log.find("write failed", pos + 1)) ++lines;
  EXPECT_LE(lines, 1u) << log;
}

TEST_F(TransmissionTest, DiscClosesCleanlyAndIgnoresTheRest) {
  Connect("", false);
  auto replies = Send(RequestBytes(kCmdRead, 1, 0, 512) + RequestBytes(kCmdDisc, 2, 0, 0) +
                      RequestBytes(kCmdRead, 3, 0, 512));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(session_->phase(), Session::Phase::kClosed);
  EXPECT_TRUE(session_->close_reason().empty());
  std::string more = RequestBytes(kCmdRead, 4, 0, 512);
  EXPECT_EQ(session_->Feed(Span(more)), 0u);
}

TEST_F(TransmissionTest, PayloadSinkReceivesWriteDataDirectly) {
  Connect("", false);
  std::string header = RequestBytes(kCmdWrite, 1, 0, 8192);
  std::string first(100, 'p');
  EXPECT_EQ(session_->Feed(Span(header + first)), header.size() + first.size());
  MutableByteSpan sink = session_->PayloadSink();
  ASSERT_EQ(sink.size(), 8192u - 100u);
  std::fill(sink.begin(), sink.end(), 'q');
  session_->PayloadReceived(sink.size());
  ASSERT_TRUE(session_->HasRequest());
  Request q = session_->PopRequest();
  Reply r = Execute(q, ctx_);
  EXPECT_EQ(ErrorOf(r), 0u);
  auto snap = disk_->Snapshot();
  EXPECT_EQ(snap[99], 'p');
  EXPECT_EQ(snap[100], 'q');
  EXPECT_EQ(snap[8191], 'q');
  EXPECT_TRUE(session_->PayloadSink().empty());
}

TEST_F(TransmissionTest, FeedStopsAtEachReadyRequest) {
  Connect("", false);
  std::string two = RequestBytes(kCmdFlush, 1, 0, 0) + RequestBytes(kCmdFlush, 2, 0, 0);
  EXPECT_EQ(session_->Feed(Span(two)), kRequestHeaderBytes);
  EXPECT_TRUE(session_->HasRequest());
  EXPECT_EQ(session_->Feed(Span(two.substr(kRequestHeaderBytes))), 0u);  // pop first
  EXPECT_EQ(session_->PopRequest().handle, 1u);
  EXPECT_EQ(session_->Feed(Span(two.substr(kRequestHeaderBytes))), kRequestHeaderBytes);
  EXPECT_EQ(session_->PopRequest().handle, 2u);
}

}  // namespace
}  // namespace lifeline::nbd
