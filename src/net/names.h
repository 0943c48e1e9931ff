// Name suggestions ("did you mean") for typos in keys, enum values and references.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lifeline::net {

// Edit distance (insert, delete, substitute), case-insensitive.
int EditDistance(std::string_view a, std::string_view b);

// The closest candidate within a distance that still reads as a typo of `word`
// (at most 2 edits, or a third of the word for long words); empty if none.
std::string ClosestName(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to a message.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace lifeline::net
