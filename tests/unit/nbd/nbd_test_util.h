// Helpers for NBD unit tests: build client messages as bytes and parse server output.
// Thread-compatible.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nbd/protocol.h"
#include "nbd/session.h"
#include "nbd/wire.h"

namespace lifeline::nbd::testing {

inline ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline std::string ClientFlags(uint32_t flags = kClientFlagFixedNewstyle | kClientFlagNoZeroes) {
  std::string s;
  AppendBE32(&s, flags);
  return s;
}

inline std::string Option(uint32_t option, const std::string& data = "") {
  std::string s;
  AppendBE64(&s, kOptMagic);
  AppendBE32(&s, option);
  AppendBE32(&s, uint32_t(data.size()));
  return s + data;
}

// Data of NBD_OPT_INFO / NBD_OPT_GO.
inline std::string GoData(const std::string& name, std::vector<uint16_t> infos = {}) {
  std::string s;
  AppendBE32(&s, uint32_t(name.size()));
  s += name;
  AppendBE16(&s, uint16_t(infos.size()));
  for (uint16_t i : infos) AppendBE16(&s, i);
  return s;
}

// Data of NBD_OPT_{LIST,SET}_META_CONTEXT.
inline std::string MetaData(const std::string& name, const std::vector<std::string>& queries) {
  std::string s;
  AppendBE32(&s, uint32_t(name.size()));
  s += name;
  AppendBE32(&s, uint32_t(queries.size()));
  for (const auto& q : queries) {
    AppendBE32(&s, uint32_t(q.size()));
    s += q;
  }
  return s;
}

inline std::string RequestBytes(uint16_t type, uint64_t handle, uint64_t offset, uint32_t length,
                                uint16_t flags = 0, uint32_t magic = kRequestMagic) {
  std::string s;
  AppendBE32(&s, magic);
  AppendBE16(&s, flags);
  AppendBE16(&s, type);
  AppendBE64(&s, handle);
  AppendBE64(&s, offset);
  AppendBE32(&s, length);
  return s;
}

struct OptionReply {
  uint32_t option = 0;
  uint32_t type = 0;
  std::string data;
};

// Parses a sequence of option replies; fails the test on garbage.
inline std::vector<OptionReply> ParseOptionReplies(const std::string& out) {
  std::vector<OptionReply> replies;
  BeReader r(out);
  while (r.remaining() > 0) {
    uint64_t magic = r.U64();
    OptionReply rep;
    rep.option = r.U32();
    rep.type = r.U32();
    uint32_t len = r.U32();
    rep.data = std::string(r.Bytes(len));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(magic, kOptReplyMagic);
    if (!r.ok()) break;
    replies.push_back(std::move(rep));
  }
  return replies;
}

// Feeds all of `bytes`, popping requests into `requests` as they become ready.
inline void FeedAll(Session& s, const std::string& bytes, std::vector<Request>* requests) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = s.Feed(ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()) + pos,
                               bytes.size() - pos));
    pos += n;
    if (s.HasRequest()) {
      requests->push_back(s.PopRequest());
    } else if (n == 0) {
      break;  // closed or waiting for TLS
    }
  }
  if (s.HasRequest()) requests->push_back(s.PopRequest());
}

}  // namespace lifeline::nbd::testing
