// Pulls libyaml events and builds the tree iteratively: an explicit stack of open
// containers (bounded by kMaxYamlDepth) and one pending list of finished children, so a
// document costs one node per event and no recursion.
#include "net/yaml_doc.h"

#include <yaml.h>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

namespace lifeline::net {

const YamlNode* YamlNode::Get(std::string_view k) const {
  if (kind != YamlKind::kMap) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i]->kind == YamlKind::kScalar && items[i]->text == k) return items[i + 1];
  }
  return nullptr;
}

namespace {

constexpr size_t kArenaBlockBytes = 64 * 1024;

// Owns a libyaml parser and one event at a time (C API: explicit delete calls).
class EventSource {
 public:
  explicit EventSource(std::string_view text) {
    ok_ = yaml_parser_initialize(&parser_) != 0;
    if (ok_) {
      yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                   text.size());
    }
  }
  ~EventSource() {
    if (has_event_) yaml_event_delete(&event_);
    if (ok_) yaml_parser_delete(&parser_);
  }
  EventSource(const EventSource&) = delete;
  EventSource& operator=(const EventSource&) = delete;

  bool initialized() const { return ok_; }
  // The next event, or nullptr on a libyaml error (see parser()).
  const yaml_event_t* Next() {
    if (has_event_) yaml_event_delete(&event_);
    has_event_ = yaml_parser_parse(&parser_, &event_) != 0;
    return has_event_ ? &event_ : nullptr;
  }
  const yaml_parser_t& parser() const { return parser_; }

 private:
  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool ok_ = false;
  bool has_event_ = false;
};

Loc LocOf(const yaml_mark_t& m) {
  return {static_cast<int>(std::min<size_t>(m.line + 1, INT32_MAX)),
          static_cast<int>(std::min<size_t>(m.column + 1, INT32_MAX))};
}

bool IsNullWord(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

}  // namespace

class YamlDocBuilder {
 public:
  YamlDocBuilder(std::string_view text, const std::string& file, YamlDoc* doc)
      : text_(text), file_(file), doc_(doc) {}

  Status Run() {
    EventSource events(text_);
    if (!events.initialized()) return Status::InvalidArgument(file_ + ": out of memory");
    int documents = 0;
    for (;;) {
      const yaml_event_t* e = events.Next();
      if (!e) return SyntaxError(events.parser());
      Loc loc = LocOf(e->start_mark);
      switch (e->type) {
        case YAML_STREAM_START_EVENT:
        case YAML_NO_EVENT:
          break;
        case YAML_STREAM_END_EVENT:
          Finish();
          return Status::Ok();
        case YAML_DOCUMENT_START_EVENT:
          if (++documents > 1) {
            return Error(loc, "a topology file holds one YAML document; a second one starts here");
          }
          break;
        case YAML_DOCUMENT_END_EVENT:
          break;
        case YAML_SCALAR_EVENT: {
          const auto& s = e->data.scalar;
          std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
          YamlNode& n = doc_->nodes_.emplace_back();
          n.loc = loc;
          if (s.style == YAML_PLAIN_SCALAR_STYLE && s.tag == nullptr && IsNullWord(value)) {
            n.kind = YamlKind::kNull;
          } else {
            n.kind = YamlKind::kScalar;
            n.text = Store(value);
          }
          if (s.anchor) Anchor(s.anchor, &n, /*open=*/false, 1);
          AddChild(&n, 1);
          break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
          if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
            return Error(loc, "nesting deeper than " + std::to_string(kMaxYamlDepth) + " levels");
          }
          bool map = e->type == YAML_MAPPING_START_EVENT;
          YamlNode& n = doc_->nodes_.emplace_back();
          n.loc = loc;
          n.kind = map ? YamlKind::kMap : YamlKind::kSequence;
          const yaml_char_t* anchor =
              map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
          Frame f{&n, pending_.size(), 1, {}};
          if (anchor) {
            f.anchor = reinterpret_cast<const char*>(anchor);
            Anchor(anchor, &n, /*open=*/true, 0);
          }
          open_.push_back(std::move(f));
          break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
          Frame f = std::move(open_.back());
          open_.pop_back();
          size_t first = doc_->children_.size();
          doc_->children_.insert(doc_->children_.end(), pending_.begin() + f.pending_start,
                                 pending_.end());
          pending_.resize(f.pending_start);
          spans_.push_back({f.node, first, doc_->children_.size() - first});
          if (!f.anchor.empty()) {
            auto it = anchors_.find(f.anchor);
            // A later node may have reused the name meanwhile; it keeps it.
            if (it != anchors_.end() && it->second.node == f.node) {
              it->second.open = false;
              it->second.expanded_nodes = f.expanded_nodes;
            }
          }
          AddChild(f.node, f.expanded_nodes);
          break;
        }
        case YAML_ALIAS_EVENT: {
          std::string name(reinterpret_cast<const char*>(e->data.alias.anchor));
          auto it = anchors_.find(name);
          if (it == anchors_.end()) return Error(loc, "unknown anchor in alias '*" + name + "'");
          if (it->second.open) {
            return Error(loc, "alias '*" + name + "' refers to a node that contains it");
          }
          alias_nodes_ += it->second.expanded_nodes;
          if (alias_nodes_ > kMaxYamlAliasNodes) {
            return Error(loc, "aliases expand the document by more than " +
                                  std::to_string(kMaxYamlAliasNodes) + " nodes");
          }
          AddChild(it->second.node, it->second.expanded_nodes);
          break;
        }
      }
    }
  }

 private:
  struct Frame {
    YamlNode* node;
    size_t pending_start;     // its children are pending_[pending_start..]
    uint64_t expanded_nodes;  // itself plus children, aliases counted expanded
    std::string anchor;
  };
  struct AnchorInfo {
    const YamlNode* node;
    bool open;
    uint64_t expanded_nodes;
  };
  struct SpanFix {
    YamlNode* node;
    size_t first;
    size_t count;
  };

  void AddChild(const YamlNode* n, uint64_t expanded_nodes) {
    if (open_.empty()) {
      if (!doc_->root_) doc_->root_ = n;
      return;
    }
    pending_.push_back(n);
    uint64_t& total = open_.back().expanded_nodes;
    total = std::min(total + expanded_nodes, kMaxYamlAliasNodes * 4);  // saturate
  }

  void Anchor(const yaml_char_t* name, const YamlNode* n, bool open, uint64_t expanded_nodes) {
    anchors_[reinterpret_cast<const char*>(name)] = AnchorInfo{n, open, expanded_nodes};
  }

  std::string_view Store(std::string_view v) {
    if (v.empty()) return {};
    if (v.size() > kArenaBlockBytes / 4) {
      auto block = std::make_unique<char[]>(v.size());
      std::copy(v.begin(), v.end(), block.get());
      std::string_view out(block.get(), v.size());
      // Keeps the current small block last, where the next small scalars go.
      doc_->blocks_.insert(doc_->blocks_.empty() ? doc_->blocks_.end() : doc_->blocks_.end() - 1,
                           std::move(block));
      return out;
    }
    if (v.size() > doc_->block_free_) {
      doc_->blocks_.push_back(std::make_unique<char[]>(kArenaBlockBytes));
      doc_->block_free_ = kArenaBlockBytes;
    }
    char* at = doc_->blocks_.back().get() + (kArenaBlockBytes - doc_->block_free_);
    std::copy(v.begin(), v.end(), at);
    doc_->block_free_ -= v.size();
    return {at, v.size()};
  }

  // Spans point into children_, which only stops moving once every node is built.
  void Finish() {
    for (const SpanFix& s : spans_) {
      s.node->items = std::span<const YamlNode* const>(doc_->children_.data() + s.first, s.count);
    }
  }

  Status Error(const Loc& loc, const std::string& what) const {
    return Status::InvalidArgument(file_ + ":" + std::to_string(loc.line) + ":" +
                                   std::to_string(loc.column) + ": " + what);
  }

  // Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark.
  Loc LocOfOffset(size_t offset) const {
    offset = std::min(offset, text_.size());
    Loc loc{1, 1};
    for (size_t i = 0; i < offset; ++i) {
      unsigned char ch = static_cast<unsigned char>(text_[i]);
      if (ch == '\n') {
        ++loc.line;
        loc.column = 1;
      } else if ((ch & 0xC0) != 0x80) {
        ++loc.column;
      }
    }
    return loc;
  }

  Status SyntaxError(const yaml_parser_t& p) const {
    std::string problem = p.problem ? p.problem : "YAML syntax error";
    switch (p.error) {
      case YAML_MEMORY_ERROR:
        return Status::InvalidArgument(file_ + ": out of memory while parsing");
      case YAML_READER_ERROR: {
        std::string what = problem;
        if (p.problem_value >= 0) {
          char buf[16];
          std::snprintf(buf, sizeof(buf), " (byte 0x%02x)", p.problem_value & 0xff);
          what += buf;
        }
        return Error(LocOfOffset(p.problem_offset), what);
      }
      default: {
        std::string what = problem;
        if (p.context) {
          Loc c = LocOf(p.context_mark);
          what += std::string(" (") + p.context + " at " + std::to_string(c.line) + ":" +
                  std::to_string(c.column) + ")";
        }
        return Error(LocOf(p.problem_mark), what);
      }
    }
  }

  std::string_view text_;
  const std::string& file_;
  YamlDoc* doc_;
  std::vector<Frame> open_;
  std::vector<const YamlNode*> pending_;
  std::vector<SpanFix> spans_;
  std::unordered_map<std::string, AnchorInfo> anchors_;
  uint64_t alias_nodes_ = 0;
};

Result<std::unique_ptr<YamlDoc>> YamlDoc::Parse(std::string_view text,
                                                const std::string& file_name) {
  std::unique_ptr<YamlDoc> doc(new YamlDoc());
  YamlDocBuilder b(text, file_name, doc.get());
  LL_RETURN_IF_ERROR(b.Run());
  return {std::move(doc)};
}

}  // namespace lifeline::net
