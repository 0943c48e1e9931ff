// Block compression codecs (none, lz4, zstd) behind one interface. Compress() reports
// when compression does not shrink the block so callers store it raw.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline {

enum class Codec : uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };

std::string_view CodecName(Codec codec);
Result<Codec> ParseCodec(std::string_view name);  // "none" | "lz4" | "zstd"

// Compresses `input` with `codec` into `*out`. Returns false (and leaves *out unspecified)
// when the result would not be smaller than the input: store the block raw then.
bool Compress(Codec codec, std::string_view input, std::string* out, int zstd_level = 1);

// Decompresses `input` into exactly `raw_size` bytes at `out`. Corruption if the payload
// does not decode to exactly that size.
Status Decompress(Codec codec, std::string_view input, void* out, size_t raw_size);

}  // namespace lifeline
