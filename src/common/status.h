// Status and Result<T>: expected failures as values, with a small closed set of codes.
// Value types; thread-compatible (no shared state).
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lifeline {

enum class Code : uint8_t {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kCorruption,
  kIOError,
  kNoSpace,
  kBusy,
  kUnauthenticated,
  kFailedPrecondition,  // the operation is not allowed in the current state
};

std::string_view CodeName(Code code);

// Exit code for a CLI command that failed with `code` (documented in docs/cli.md).
int ExitCodeFor(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  // An errno-based I/O failure: ENOSPC/EDQUOT map to NoSpace, the rest to IOError.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: segment journal-000003.seg offset 4096: bad checksum"
  std::string ToString() const;

  // Prefixes the message with more context; keeps the code.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    // A Result built from a status must carry an error: an OK status has no value.
    assert(!std::get<1>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lifeline

#define LL_CONCAT_INNER(a, b) a##b
#define LL_CONCAT(a, b) LL_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define LL_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::lifeline::Status ll_status_ = (expr);     \
    if (!ll_status_.ok()) return ll_status_;    \
  } while (0)

// `LL_ASSIGN_OR_RETURN(auto x, MakeX());` unwraps a Result or returns its status.
#define LL_ASSIGN_OR_RETURN(lhs, expr) LL_ASSIGN_OR_RETURN_IMPL(LL_CONCAT(ll_result_, __LINE__), lhs, expr)
#define LL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// Invariant checks that guard replica integrity stay on in release builds: stopping beats
// silently diverging. Never use for what a peer or the environment can cause.
#define LL_CHECK(cond)                                                      \
  do {                                                                      \
    if (!(cond)) ::lifeline::CheckFailed(__FILE__, __LINE__, #cond);        \
  } while (0)

namespace lifeline {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace lifeline
