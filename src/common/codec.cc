#include "common/codec.h"

#include <lz4.h>
#include <zstd.h>

#include <cstring>

namespace lifeline {

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone: return "none";
    case Codec::kLz4: return "lz4";
    case Codec::kZstd: return "zstd";
  }
  return "unknown";
}

Result<Codec> ParseCodec(std::string_view name) {
  if (name == "none") return Codec::kNone;
  if (name == "lz4") return Codec::kLz4;
  if (name == "zstd") return Codec::kZstd;
  return Status::InvalidArgument("unknown compression '" + std::string(name) +
                                 "': use none, lz4 or zstd");
}

bool Compress(Codec codec, std::string_view input, std::string* out, int zstd_level) {
  switch (codec) {
    case Codec::kNone:
      return false;
    case Codec::kLz4: {
      if (input.size() > size_t(LZ4_MAX_INPUT_SIZE)) return false;
      out->resize(size_t(LZ4_compressBound(int(input.size()))));
      int n = LZ4_compress_default(input.data(), out->data(), int(input.size()), int(out->size()));
      if (n <= 0 || size_t(n) >= input.size()) return false;
      out->resize(size_t(n));
      return true;
    }
    case Codec::kZstd: {
      out->resize(ZSTD_compressBound(input.size()));
      size_t n = ZSTD_compress(out->data(), out->size(), input.data(), input.size(), zstd_level);
      if (ZSTD_isError(n) || n >= input.size()) return false;
      out->resize(n);
      return true;
    }
  }
  return false;
}

Status Decompress(Codec codec, std::string_view input, void* out, size_t raw_size) {
  switch (codec) {
    case Codec::kNone:
      if (input.size() != raw_size) return Status::Corruption("raw payload size mismatch");
      std::memcpy(out, input.data(), raw_size);
      return Status::Ok();
    case Codec::kLz4: {
      if (raw_size > size_t(LZ4_MAX_INPUT_SIZE)) return Status::Corruption("lz4 block too large");
      int n = LZ4_decompress_safe(input.data(), static_cast<char*>(out), int(input.size()),
                                  int(raw_size));
      if (n < 0 || size_t(n) != raw_size) return Status::Corruption("lz4 payload does not decode");
      return Status::Ok();
    }
    case Codec::kZstd: {
      size_t n = ZSTD_decompress(out, raw_size, input.data(), input.size());
      if (ZSTD_isError(n) || n != raw_size) return Status::Corruption("zstd payload does not decode");
      return Status::Ok();
    }
  }
  return Status::Corruption("unknown codec id " + std::to_string(int(codec)));
}

}  // namespace lifeline
