// Cumulative seq across parallel streams: the watermark only moves over contiguous seqs.
#include "wire/seq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace lifeline::wire {
namespace {

TEST(SeqWatermarkTest, AdvancesOnlyOverContiguousSeqs) {
  SeqWatermark w(10);
  EXPECT_TRUE(w.Mark(12).ok());
  EXPECT_TRUE(w.Mark(13).ok());
  EXPECT_EQ(w.watermark(), 10u);
  EXPECT_EQ(w.first_gap(), 11u);
  EXPECT_EQ(w.pending(), 2u);
  EXPECT_TRUE(w.Mark(11).ok());
  EXPECT_EQ(w.watermark(), 13u);
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(w.first_gap(), 0u);
  // Replays change nothing.
  EXPECT_TRUE(w.Mark(5).ok());
  EXPECT_TRUE(w.Mark(13).ok());
  EXPECT_EQ(w.watermark(), 13u);
}

TEST(SeqWatermarkTest, FourStreamsInRandomOrderEndAtTheLastSeq) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<uint64_t> seqs(4000);
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i] = i + 1;
    std::mt19937_64 rng(seed);
    // Each of 4 streams delivers its own seqs in order; the streams interleave randomly.
    std::vector<std::vector<uint64_t>> streams(4);
    for (uint64_t s : seqs) streams[s % 4].push_back(s);
    std::vector<size_t> pos(4, 0);
    SeqWatermark w;
    uint64_t last = 0;
    for (size_t n = 0; n < seqs.size(); ++n) {
      size_t k;
      do k = rng() % 4;
      while (pos[k] >= streams[k].size());
      ASSERT_TRUE(w.Mark(streams[k][pos[k]++]).ok());
      ASSERT_GE(w.watermark(), last) << "seed " << seed;  // never goes back
      last = w.watermark();
      // Invariant: every seq <= watermark was marked.
      for (size_t j = 0; j < 4; ++j) {
        if (pos[j] < streams[j].size()) {
          ASSERT_LT(w.watermark(), streams[j][pos[j]]);
        }
      }
    }
    EXPECT_EQ(w.watermark(), 4000u);
  }
}

TEST(SeqWatermarkTest, PendingIsBounded) {
  SeqWatermark w(0, 3);
  EXPECT_TRUE(w.Mark(2).ok());
  EXPECT_TRUE(w.Mark(3).ok());
  EXPECT_TRUE(w.Mark(4).ok());
  Status st = w.Mark(5);
  EXPECT_EQ(st.code(), Code::kBusy);
  EXPECT_NE(st.message().find("seq 1 missing"), std::string::npos);
  EXPECT_TRUE(w.Mark(1).ok());
  EXPECT_EQ(w.watermark(), 4u);
  EXPECT_TRUE(w.Mark(5).ok());
}

}  // namespace
}  // namespace lifeline::wire
