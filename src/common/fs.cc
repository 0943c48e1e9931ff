#include "common/fs.h"

namespace lifeline {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string BaseName(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

Status File::WriteAtV(uint64_t offset, const ByteSpan* pieces, size_t count) {
  std::string joined;
  for (size_t i = 0; i < count; ++i) joined.append(reinterpret_cast<const char*>(pieces[i].data()), pieces[i].size());
  return WriteAt(offset, joined.data(), joined.size());
}

// Durable replace: write a temp file, fsync it, rename over the target, fsync the dir.
// After a crash the path holds either the old or the new contents, never a mix.
Status WriteFileAtomic(FileSystem* fs, const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    LL_ASSIGN_OR_RETURN(auto f, fs->Open(tmp, OpenMode::kTruncate));
    LL_RETURN_IF_ERROR(f->WriteAt(0, data.data(), data.size()));
    LL_RETURN_IF_ERROR(f->Sync());
  }
  LL_RETURN_IF_ERROR(fs->Rename(tmp, path));
  return fs->SyncDir(DirName(path));
}

Result<std::string> ReadWholeFile(FileSystem* fs, const std::string& path,
                                  uint64_t max_size_bytes) {
  LL_ASSIGN_OR_RETURN(auto f, fs->Open(path, OpenMode::kRead));
  LL_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size > max_size_bytes)
    return Status::Corruption(path + ": " + std::to_string(size) + " bytes, more than the " +
                              std::to_string(max_size_bytes) + " allowed");
  std::string out(size, '\0');
  LL_ASSIGN_OR_RETURN(size_t n, f->ReadAt(0, out.data(), size));
  if (n != size) return Status::IOError(path + ": short read");
  return out;
}

}  // namespace lifeline
