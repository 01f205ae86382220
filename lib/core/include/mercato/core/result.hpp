// Result<T>: a value or an Error. The return type of every operation that can fail in an expected way.
//
//   Result<User> find(std::string_view id);
//   auto user = find(id);
//   if (!user) return user.error();
//   use(*user);
//
// Result<void> carries only success or an Error. (std::expected is C++23; this is the small subset we use.)
//
// Passing a failure up, in a function that returns a Result (of any type) or an Error — abseil's
// RETURN_IF_ERROR and ASSIGN_OR_RETURN, for Result:
//
//   Result<Order> load(Connection& c, std::string_view id) {
//     MERCATO_RETURN_IF_ERROR(c.begin());                          // Result<void> or Result<T>
//     MERCATO_ASSIGN_OR_RETURN(auto rows, c.query(kSelect, {id}));  // rows is the value, not a Result
//     return read_order(rows);
//   }
//
// Thread-safety: plain values.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "mercato/core/error.hpp"

namespace mercato {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace mercato

// Error propagation. Both are statements; each evaluates `expr` once and, when it holds an Error,
// returns that Error (moved) from the enclosing function, which must return a Result or an Error — not
// a coroutine (co_return: write those out), and not a function whose failure needs more than a return
// (a log line, a rollback): write that out too, so it shows.

// Returns the Error of `expr` (a Result of any type) if it failed; a success's value is dropped.
#define MERCATO_RETURN_IF_ERROR(expr) \
  MERCATO_INTERNAL_RETURN_IF_ERROR(MERCATO_INTERNAL_CONCAT(mercato_result_, __COUNTER__), expr)

// `lhs` = the value of `expr` (a Result<T>), or returns its Error. `lhs` is a declaration (auto rows,
// const auto& row, std::string name) or an existing variable. It is declared in the enclosing scope, so
// the macro cannot be the body of an unbraced if, and it is in scope only after the statement.
#define MERCATO_ASSIGN_OR_RETURN(lhs, expr) \
  MERCATO_INTERNAL_ASSIGN_OR_RETURN(MERCATO_INTERNAL_CONCAT(mercato_result_, __COUNTER__), lhs, expr)

// Implementation details. __COUNTER__ names each temporary apart, so nesting and repeating the macros
// never shadows one (-Wshadow).
#define MERCATO_INTERNAL_CONCAT_INNER(a, b) a##b
#define MERCATO_INTERNAL_CONCAT(a, b) MERCATO_INTERNAL_CONCAT_INNER(a, b)
// NOLINTBEGIN(bugprone-macro-parentheses): `result` and `lhs` are declarations, which parentheses would break
#define MERCATO_INTERNAL_RETURN_IF_ERROR(result, expr)                   \
  do {                                                                   \
    if (auto result = (expr); !result) return std::move(result).error(); \
  } while (false)
#define MERCATO_INTERNAL_ASSIGN_OR_RETURN(result, lhs, expr) \
  auto result = (expr);                                      \
  if (!result) return std::move(result).error();             \
  lhs = std::move(result).value()
// NOLINTEND(bugprone-macro-parentheses)
