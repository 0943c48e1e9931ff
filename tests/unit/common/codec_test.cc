#include "common/codec.h"

#include <gtest/gtest.h>

#include <random>

namespace lifeline {
namespace {

TEST(Codec, RoundTripsCompressibleData) {
  std::string input(65536, 'a');
  for (size_t i = 0; i < input.size(); i += 100) input[i] = char('b' + i % 7);
  for (Codec c : {Codec::kLz4, Codec::kZstd}) {
    std::string out;
    ASSERT_TRUE(Compress(c, input, &out)) << CodecName(c);
    EXPECT_LT(out.size(), input.size());
    std::string back(input.size(), '\0');
    ASSERT_TRUE(Decompress(c, out, back.data(), back.size()).ok());
    EXPECT_EQ(back, input);
  }
}

TEST(Codec, RandomDataIsNotCompressed) {
  std::mt19937_64 rng(1);
  std::string input(65536, '\0');
  for (auto& ch : input) ch = char(rng());
  std::string out;
  EXPECT_FALSE(Compress(Codec::kLz4, input, &out));
  EXPECT_FALSE(Compress(Codec::kZstd, input, &out));
  EXPECT_FALSE(Compress(Codec::kNone, input, &out));
}

TEST(Codec, CorruptPayloadIsAnErrorNotACrash) {
  std::string input(4096, 'x');
  std::string out;
  ASSERT_TRUE(Compress(Codec::kZstd, input, &out));
  std::string back(input.size(), '\0');
  std::string bad = out;
  bad[bad.size() / 2] ^= 0x5a;
  bad.resize(bad.size() - 3);
  EXPECT_EQ(Decompress(Codec::kZstd, bad, back.data(), back.size()).code(), Code::kCorruption);
  EXPECT_EQ(Decompress(Codec::kLz4, "garbage", back.data(), back.size()).code(), Code::kCorruption);
  EXPECT_EQ(Decompress(Codec::kNone, "short", back.data(), back.size()).code(), Code::kCorruption);
  EXPECT_FALSE(ParseCodec("gzip").ok());
  EXPECT_EQ(*ParseCodec("lz4"), Codec::kLz4);
}

}  // namespace
}  // namespace lifeline
