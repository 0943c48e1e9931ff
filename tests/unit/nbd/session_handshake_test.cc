// Handshake phase of nbd::Session driven with byte buffers: options, their order, and
// every malformed-input case gets the protocol's error reply or a clean close.
#include <gtest/gtest.h>

#include <memory>

#include "nbd/memory_backend.h"
#include "nbd_test_util.h"

namespace lifeline::nbd {
namespace {

using namespace lifeline::nbd::testing;

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Add({"", "default disk", std::make_shared<MemoryBackend>(1 << 20), false}).ok());
    ASSERT_TRUE(registry_.Add({"ro", "", std::make_shared<MemoryBackend>(8192), true}).ok());
  }
  std::unique_ptr<Session> NewSession(SessionConfig cfg = {}) {
    cfg.registry = &registry_;
    auto s = std::make_unique<Session>(cfg);
    s->Start();
    greeting_ = s->TakeOutput();
    return s;
  }
  // Feeds client flags plus `options`; returns the parsed replies.
  std::vector<OptionReply> Run(Session& s, const std::string& options,
                               uint32_t flags = kClientFlagFixedNewstyle | kClientFlagNoZeroes) {
    std::vector<Request> reqs;
    FeedAll(s, ClientFlags(flags) + options, &reqs);
    EXPECT_TRUE(reqs.empty());
    return ParseOptionReplies(s.TakeOutput());
  }
  ExportRegistry registry_;
  std::string greeting_;
};

TEST_F(HandshakeTest, GreetingIsFixedNewstyle) {
  auto s = NewSession();
  ASSERT_EQ(greeting_.size(), 18u);
  BeReader r(greeting_);
  EXPECT_EQ(r.U64(), kNbdMagic);
  EXPECT_EQ(r.U64(), kOptMagic);
  EXPECT_EQ(r.U16(), kFlagFixedNewstyle | kFlagNoZeroes);
  EXPECT_EQ(s->phase(), Session::Phase::kHandshake);
}

TEST_F(HandshakeTest, UnknownClientFlagsClose) {
  auto s = NewSession();
  Run(*s, "", 0x4 | kClientFlagFixedNewstyle);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
  EXPECT_FALSE(s->close_reason().empty());
}

TEST_F(HandshakeTest, NonFixedNewstyleClientCloses) {
  auto s = NewSession();
  Run(*s, "", 0);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
}

TEST_F(HandshakeTest, BadOptionMagicCloses) {
  auto s = NewSession();
  std::string opt = Option(kOptList);
  opt[0] ^= 0x55;
  auto replies = Run(*s, opt);
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
}

TEST_F(HandshakeTest, UnknownOptionIsUnsupportedAndNegotiationContinues) {
  auto s = NewSession();
  auto replies = Run(*s, Option(4242, "junk") + Option(kOptList));
  ASSERT_EQ(replies.size(), 4u);  // UNSUP, SERVER "", SERVER "ro", ACK
  EXPECT_EQ(replies[0].option, 4242u);
  EXPECT_EQ(replies[0].type, kRepErrUnsup);
  EXPECT_EQ(replies[1].type, kRepServer);
  EXPECT_EQ(replies[1].data, std::string("\0\0\0\0", 4));
  EXPECT_EQ(replies[2].data, std::string("\0\0\0\x02ro", 6));
  EXPECT_EQ(replies[3].type, kRepAck);
  EXPECT_EQ(s->phase(), Session::Phase::kHandshake);
}

TEST_F(HandshakeTest, ListWithDataIsInvalid) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptList, "x"));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, kRepErrInvalid);
}

TEST_F(HandshakeTest, GoDefaultExportAdvertisesSizeFlagsAndBlockSize) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptStructuredReply) + Option(kOptGo, GoData("", {kInfoBlockSize})));
  ASSERT_EQ(replies.size(), 4u);  // ACK(structured), INFO export, INFO block size, ACK
  EXPECT_EQ(replies[0].type, kRepAck);
  BeReader info(replies[1].data);
  EXPECT_EQ(info.U16(), kInfoExport);
  EXPECT_EQ(info.U64(), 1u << 20);
  uint16_t flags = info.U16();
  EXPECT_TRUE(flags & kTxHasFlags);
  EXPECT_TRUE(flags & kTxSendFlush);
  EXPECT_TRUE(flags & kTxSendFua);
  EXPECT_TRUE(flags & kTxSendTrim);
  EXPECT_TRUE(flags & kTxSendWriteZeroes);
  EXPECT_TRUE(flags & kTxSendDf);
  EXPECT_TRUE(flags & kTxCanMultiConn);
  EXPECT_FALSE(flags & kTxReadOnly);
  BeReader bs(replies[2].data);
  EXPECT_EQ(bs.U16(), kInfoBlockSize);
  EXPECT_EQ(bs.U32(), 1u);
  EXPECT_EQ(bs.U32(), 4096u);
  EXPECT_EQ(bs.U32(), 32u << 20);
  EXPECT_EQ(replies[3].type, kRepAck);
  EXPECT_EQ(s->phase(), Session::Phase::kTransmission);
  EXPECT_TRUE(s->structured_replies());
}

TEST_F(HandshakeTest, InfoStaysInNegotiationAndSendsNameAndDescription) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptInfo, GoData("", {kInfoName, kInfoDescription})));
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[1].data, std::string("\0\x01", 2));  // INFO_NAME of ""
  EXPECT_EQ(replies[2].data, std::string("\0\x02", 2) + "default disk");
  EXPECT_EQ(replies[4].type, kRepAck);
  EXPECT_EQ(s->phase(), Session::Phase::kHandshake);
}

TEST_F(HandshakeTest, GoUnknownExportIsUnknownAndNegotiationContinues) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptGo, GoData("nope")) + Option(kOptGo, GoData("ro")));
  ASSERT_GE(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, kRepErrUnknown);
  EXPECT_EQ(replies.back().type, kRepAck);
  EXPECT_EQ(s->phase(), Session::Phase::kTransmission);
  EXPECT_TRUE(s->transmission_flags() & kTxReadOnly);
  EXPECT_FALSE(s->transmission_flags() & kTxSendTrim);
}

TEST_F(HandshakeTest, MalformedGoIsInvalid) {
  auto s = NewSession();
  std::string short_data = GoData("", {kInfoName});
  short_data.pop_back();  // truncated info list
  std::string long_name;
  AppendBE32(&long_name, 5000);
  long_name += std::string(5000, 'a');
  AppendBE16(&long_name, 0);
  auto replies = Run(*s, Option(kOptGo, short_data) + Option(kOptGo, GoData("") + "x") +
                             Option(kOptGo, long_name) + Option(kOptGo, "\0\0"));
  ASSERT_EQ(replies.size(), 4u);
  for (const auto& r : replies) EXPECT_EQ(r.type, kRepErrInvalid);
  EXPECT_EQ(s->phase(), Session::Phase::kHandshake);
}

TEST_F(HandshakeTest, MetaContextBeforeStructuredRepliesIsInvalid) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptSetMetaContext, MetaData("", {kBaseAllocation})) +
                             Option(kOptListMetaContext, MetaData("", {})));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, kRepErrInvalid);
  EXPECT_EQ(replies[1].type, kRepErrInvalid);
}

TEST_F(HandshakeTest, ListMetaContext) {
  auto s = NewSession();
  auto replies =
      Run(*s, Option(kOptStructuredReply) + Option(kOptListMetaContext, MetaData("", {})) +
                  Option(kOptListMetaContext, MetaData("", {"base:"})) +
                  Option(kOptListMetaContext, MetaData("", {"qemu:dirty-bitmap:x"})) +
                  Option(kOptListMetaContext, MetaData("", {"nocolon"})) +
                  Option(kOptListMetaContext, MetaData("missing", {})));
  ASSERT_EQ(replies.size(), 8u);
  EXPECT_EQ(replies[1].type, kRepMetaContext);
  EXPECT_EQ(replies[1].data.substr(4), kBaseAllocation);
  EXPECT_EQ(replies[2].type, kRepAck);
  EXPECT_EQ(replies[3].type, kRepMetaContext);
  EXPECT_EQ(replies[4].type, kRepAck);
  EXPECT_EQ(replies[5].type, kRepAck);  // unknown namespace: ignored, not an error
  EXPECT_EQ(replies[6].type, kRepErrInvalid);
  EXPECT_EQ(replies[7].type, kRepErrUnknown);
}

TEST_F(HandshakeTest, SetMetaContextSelectsBaseAllocation) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptStructuredReply) +
                             Option(kOptSetMetaContext, MetaData("", {"base:", kBaseAllocation})) +
                             Option(kOptGo, GoData("")));
  ASSERT_GE(replies.size(), 3u);
  EXPECT_EQ(replies[1].type, kRepMetaContext);
  BeReader r(replies[1].data);
  EXPECT_EQ(r.U32(), Session::kBaseAllocationId);
  EXPECT_EQ(replies[2].type, kRepAck);
  EXPECT_EQ(s->meta_context_id(), Session::kBaseAllocationId);
}

TEST_F(HandshakeTest, MetaContextForAnotherExportIsDroppedAtGo) {
  auto s = NewSession();
  Run(*s, Option(kOptStructuredReply) +
              Option(kOptSetMetaContext, MetaData("ro", {kBaseAllocation})) +
              Option(kOptGo, GoData("")));
  EXPECT_EQ(s->phase(), Session::Phase::kTransmission);
  EXPECT_EQ(s->meta_context_id(), 0u);
}

TEST_F(HandshakeTest, ExportNameKnownAndUnknown) {
  auto s = NewSession();
  std::vector<Request> reqs;
  FeedAll(*s, ClientFlags(kClientFlagFixedNewstyle) + Option(kOptExportName, "ro"), &reqs);
  std::string out = s->TakeOutput();
  ASSERT_EQ(out.size(), 8u + 2u + 124u);  // size, flags, zeroes (no NO_ZEROES)
  BeReader r(out);
  EXPECT_EQ(r.U64(), 8192u);
  EXPECT_TRUE(r.U16() & kTxReadOnly);
  EXPECT_EQ(s->phase(), Session::Phase::kTransmission);

  auto s2 = NewSession();
  FeedAll(*s2, ClientFlags() + Option(kOptExportName, "nope"), &reqs);
  EXPECT_EQ(s2->phase(), Session::Phase::kClosed);
  EXPECT_TRUE(s2->TakeOutput().empty());

  auto s3 = NewSession();
  FeedAll(*s3, ClientFlags() + Option(kOptExportName, ""), &reqs);
  EXPECT_EQ(s3->TakeOutput().size(), 10u);  // NO_ZEROES negotiated
}

TEST_F(HandshakeTest, AbortAcksAndClosesCleanly) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptAbort) + Option(kOptList));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, kRepAck);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
  EXPECT_TRUE(s->close_reason().empty());
}

TEST_F(HandshakeTest, OversizedOptionCloses) {
  auto s = NewSession();
  std::string hdr;
  AppendBE64(&hdr, kOptMagic);
  AppendBE32(&hdr, kOptGo);
  AppendBE32(&hdr, 0xffffffff);
  Run(*s, hdr);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
}

TEST_F(HandshakeTest, EndlessOptionsClose) {
  auto s = NewSession();
  std::string many;
  for (int i = 0; i < 300; ++i) many += Option(kOptStructuredReply);
  auto replies = Run(*s, many);
  EXPECT_EQ(replies.size(), 256u);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
}

TEST_F(HandshakeTest, StartTlsWithoutTlsIsPolicy) {
  auto s = NewSession();
  auto replies = Run(*s, Option(kOptStartTls) + Option(kOptStartTls, "x"));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, kRepErrPolicy);
  EXPECT_EQ(replies[1].type, kRepErrInvalid);
}

TEST_F(HandshakeTest, StartTlsUpgradeResetsNegotiation) {
  SessionConfig cfg;
  cfg.tls_available = true;
  auto s = NewSession(cfg);
  std::string rest = Option(kOptGo, GoData(""));
  std::string bytes = ClientFlags() + Option(kOptStructuredReply) + Option(kOptStartTls) + rest;
  size_t used = s->Feed(Span(bytes));
  EXPECT_EQ(used, bytes.size() - rest.size());  // stops at the TLS boundary
  EXPECT_EQ(s->phase(), Session::Phase::kStartTls);
  auto replies = ParseOptionReplies(s->TakeOutput());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1].type, kRepAck);
  s->TlsEstablished();
  EXPECT_FALSE(s->structured_replies());
  std::vector<Request> reqs;
  FeedAll(*s, Option(kOptStartTls) + rest, &reqs);
  replies = ParseOptionReplies(s->TakeOutput());
  EXPECT_EQ(replies[0].type, kRepErrInvalid);  // a second STARTTLS
  EXPECT_EQ(s->phase(), Session::Phase::kTransmission);
}

TEST_F(HandshakeTest, TlsRequiredRefusesPlainOptions) {
  SessionConfig cfg;
  cfg.tls_available = true;
  cfg.tls_required = true;
  auto s = NewSession(cfg);
  auto replies = Run(*s, Option(kOptList) + Option(kOptGo, GoData("")));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, kRepErrTlsReqd);
  EXPECT_EQ(replies[1].type, kRepErrTlsReqd);
  EXPECT_EQ(s->phase(), Session::Phase::kHandshake);
  std::vector<Request> reqs;
  FeedAll(*s, Option(kOptExportName, ""), &reqs);
  EXPECT_EQ(s->phase(), Session::Phase::kClosed);
}

TEST_F(HandshakeTest, ByteAtATimeMatchesOneChunk) {
  std::string bytes = ClientFlags() + Option(kOptStructuredReply) +
                      Option(kOptSetMetaContext, MetaData("", {kBaseAllocation})) +
                      Option(kOptList) + Option(kOptGo, GoData("", {kInfoBlockSize}));
  auto a = NewSession();
  EXPECT_EQ(a->Feed(Span(bytes)), bytes.size());
  auto b = NewSession();
  for (size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(b->Feed(ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()) + i, 1)), 1u);
  }
  EXPECT_EQ(a->TakeOutput(), b->TakeOutput());
  EXPECT_EQ(b->phase(), Session::Phase::kTransmission);
}

}  // namespace
}  // namespace lifeline::nbd
