// Edit distance with two rows: names in a topology are short, so O(n*m) is fine.
#include "net/names.h"

#include <algorithm>
#include <cctype>

namespace lifeline::net {

int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string ClosestName(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 256) return "";  // not a typo; keeps the cost bounded on hostile input
  int limit = std::max(2, static_cast<int>(word.size()) / 3);
  int best = limit + 1;
  std::string best_name;
  for (const auto& c : candidates) {
    if (c.size() > word.size() + static_cast<size_t>(limit) + 1) continue;
    int d = EditDistance(word, c);
    if (d < best) {
      best = d;
      best_name = c;
    }
  }
  return best_name;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string c = ClosestName(word, candidates);
  return c.empty() ? "" : " (did you mean '" + c + "'?)";
}

}  // namespace lifeline::net
