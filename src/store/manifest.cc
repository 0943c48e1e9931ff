#include "store/manifest.h"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "store/format.h"

namespace lifeline::store {

using nlohmann::json;

std::string_view PointKindName(PointKind kind) {
  switch (kind) {
    case PointKind::kCrash: return "crash-consistent";
    case PointKind::kApp: return "app-consistent";
    case PointKind::kGroup: return "group";
    case PointKind::kUser: return "user";
  }
  return "unknown";
}

Result<PointKind> ParsePointKind(std::string_view name) {
  if (name == "crash-consistent" || name == "crash") return PointKind::kCrash;
  if (name == "app-consistent" || name == "app") return PointKind::kApp;
  if (name == "group") return PointKind::kGroup;
  if (name == "user") return PointKind::kUser;
  return Status::InvalidArgument("unknown point kind '" + std::string(name) +
                                 "': use crash-consistent, app-consistent, group or user");
}

std::string SegmentInfo::file_name() const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "journal-%08llu.seg", static_cast<unsigned long long>(number));
  return buf;
}

std::string EncodeManifest(const Manifest& m) {
  json points = json::array();
  for (const auto& p : m.points) {
    points.push_back({{"id", p.id}, {"seq", p.seq}, {"time_ns", p.time_unix_ns},
                      {"kind", PointKindName(p.kind)}, {"label", p.label},
                      {"group_id", p.group_id}, {"group_point_id", p.group_point_id},
                      {"group_members", p.group_members}, {"tags", p.tags}});
  }
  json segments = json::array();
  for (const auto& s : m.segments) segments.push_back(s.number);
  json j = {{"disk_id", m.disk_id},
            {"size_bytes", m.size_bytes},
            {"created_ns", m.created_unix_ns},
            {"folded_seq", m.folded_seq},
            {"folded_time_ns", m.folded_time_unix_ns},
            {"fold_target_seq", m.fold_target_seq},
            {"next_segment_number", m.next_segment_number},
            {"next_point_id", m.next_point_id},
            {"segments", segments},
            {"points", points},
            {"retention",
             {{"window_s", m.retention.window_seconds},
              {"keep_all_s", m.retention.keep_all_seconds},
              {"keep_one_per_s", m.retention.keep_one_per_seconds}}}};
  return EncodeManifestFile(j.dump());
}

namespace {
bool HasFloat(const json& j) {
  if (j.is_number_float()) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (HasFloat(v)) return true;
  return false;
}
}  // namespace

Result<Manifest> DecodeManifest(std::string_view file, std::string_view name) {
  LL_ASSIGN_OR_RETURN(std::string body, DecodeManifestFile(file, name));
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(std::string(name) + ": manifest body is not valid JSON");
  if (HasFloat(j))  // every number of a manifest is an integer; a float would not convert
    return Status::Corruption(std::string(name) + ": manifest holds a non-integer number");
  try {
    Manifest m;
    m.disk_id = j.at("disk_id").get<std::string>();
    m.size_bytes = j.at("size_bytes").get<uint64_t>();
    m.created_unix_ns = j.at("created_ns").get<int64_t>();
    m.folded_seq = j.at("folded_seq").get<uint64_t>();
    m.folded_time_unix_ns = j.at("folded_time_ns").get<int64_t>();
    m.fold_target_seq = j.at("fold_target_seq").get<uint64_t>();
    m.next_segment_number = j.at("next_segment_number").get<uint64_t>();
    m.next_point_id = j.at("next_point_id").get<uint64_t>();
    for (const auto& s : j.at("segments")) m.segments.push_back({s.get<uint64_t>()});
    for (const auto& jp : j.at("points")) {
      RecoveryPoint p;
      p.id = jp.at("id").get<uint64_t>();
      p.seq = jp.at("seq").get<uint64_t>();
      p.time_unix_ns = jp.at("time_ns").get<int64_t>();
      LL_ASSIGN_OR_RETURN(p.kind, ParsePointKind(jp.at("kind").get<std::string>()));
      p.label = jp.at("label").get<std::string>();
      p.group_id = jp.at("group_id").get<std::string>();
      p.group_point_id = jp.at("group_point_id").get<uint64_t>();
      p.group_members = jp.at("group_members").get<std::vector<std::string>>();
      p.tags = jp.at("tags").get<std::vector<std::string>>();
      m.points.push_back(std::move(p));
    }
    const auto& r = j.at("retention");
    m.retention.window_seconds = r.at("window_s").get<int64_t>();
    m.retention.keep_all_seconds = r.at("keep_all_s").get<int64_t>();
    m.retention.keep_one_per_seconds = r.at("keep_one_per_s").get<int64_t>();
    return m;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string(name) + ": manifest field missing or of the wrong type: " +
                              e.what());
  }
}

Status WriteManifest(FileSystem* fs, const std::string& dir, const Manifest& m) {
  return WriteFileAtomic(fs, JoinPath(dir, kManifestFileName), EncodeManifest(m));
}

Result<Manifest> ReadManifest(FileSystem* fs, const std::string& dir) {
  std::string path = JoinPath(dir, kManifestFileName);
  LL_ASSIGN_OR_RETURN(std::string file, ReadWholeFile(fs, path, 256u << 20));
  return DecodeManifest(file, path);
}

}  // namespace lifeline::store
