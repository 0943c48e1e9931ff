// A YAML document as a small read-only tree with positions, built from libyaml's event
// parser. Internal to the topology parser. Immutable after Parse: thread-safe for readers.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "net/model.h"

namespace lifeline::net {

enum class YamlKind : uint8_t { kNull, kScalar, kSequence, kMap };

// One node. A map's items are its keys and values interleaved (key 0, value 0, key 1, ...),
// in file order, duplicates kept (the reader reports them). An alias is the node it names.
struct YamlNode {
  YamlKind kind = YamlKind::kNull;
  Loc loc;                // 1-based; columns count characters (code points)
  std::string_view text;  // kScalar only: the scalar's value
  std::span<const YamlNode* const> items;

  bool IsNull() const { return kind == YamlKind::kNull; }
  bool IsScalar() const { return kind == YamlKind::kScalar; }
  bool IsSequence() const { return kind == YamlKind::kSequence; }
  bool IsMap() const { return kind == YamlKind::kMap; }
  size_t pairs() const { return items.size() / 2; }  // kMap only
  const YamlNode& key(size_t i) const { return *items[2 * i]; }
  const YamlNode& value(size_t i) const { return *items[2 * i + 1]; }
  // The value of the first scalar key equal to `k`; nullptr if absent or not a map.
  const YamlNode* Get(std::string_view k) const;
};

// A node's items seen as nodes (a range of `const YamlNode&`).
class YamlItems {
 public:
  class Iterator {
   public:
    explicit Iterator(const YamlNode* const* p) : p_(p) {}
    const YamlNode& operator*() const { return **p_; }
    Iterator& operator++() {
      ++p_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return p_ != o.p_; }

   private:
    const YamlNode* const* p_;
  };
  YamlItems() = default;
  explicit YamlItems(std::span<const YamlNode* const> items) : items_(items) {}
  Iterator begin() const { return Iterator(items_.data()); }
  Iterator end() const { return Iterator(items_.data() + items_.size()); }
  size_t size() const { return items_.size(); }

 private:
  std::span<const YamlNode* const> items_;
};

// Limits that bound work and memory on hostile input (NETWORK_MODEL.md §1, docs).
inline constexpr int kMaxYamlDepth = 64;
// Nodes that aliases may add when expanded, in total (defends against "billion laughs").
inline constexpr uint64_t kMaxYamlAliasNodes = 100000;

class YamlDoc {
 public:
  // Parses a single-document YAML stream. Errors are InvalidArgument "FILE:LINE:COL: what":
  // syntax errors, invalid UTF-8, a second document, unknown or self-containing aliases,
  // nesting deeper than kMaxYamlDepth, aliases expanding past kMaxYamlAliasNodes.
  // A plain, untagged "", "~", "null", "Null" or "NULL" is a null node. Tags are ignored.
  static Result<std::unique_ptr<YamlDoc>> Parse(std::string_view text,
                                                const std::string& file_name);

  // The document's root; nullptr for an empty stream.
  const YamlNode* root() const { return root_; }

  YamlDoc(const YamlDoc&) = delete;
  YamlDoc& operator=(const YamlDoc&) = delete;

 private:
  friend class YamlDocBuilder;
  YamlDoc() = default;

  std::deque<YamlNode> nodes_;                   // stable addresses
  std::vector<const YamlNode*> children_;        // items of every container, contiguous
  std::vector<std::unique_ptr<char[]>> blocks_;  // scalar text arena
  size_t block_free_ = 0;                        // bytes left in blocks_.back()
  const YamlNode* root_ = nullptr;
};

}  // namespace lifeline::net
