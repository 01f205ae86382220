// What to do once a transaction commits, and never if it rolls back: how the outbox wakes its relay only
// after the events it wakes it for are visible. One per connection of a storage driver.
//
//   actions.add([key] { outbox_signal::raise(key); });
//   return actions.committed(exec("COMMIT"));   // runs them when the commit succeeded
//
// Thread-safety: none; belongs to its connection (one thread at a time).
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"

namespace mercato::core {

class CommitActions {
 public:
  void add(std::function<void()> action) { actions_.push_back(std::move(action)); }
  // Forgets the actions (a rollback).
  void clear() noexcept { actions_.clear(); }
  // The outcome of COMMIT: the actions run when it succeeded, and are forgotten either way.
  Result<void> committed(Result<void> outcome) {
    auto actions = std::move(actions_);
    actions_.clear();
    if (outcome) {
      for (auto& action : actions) action();
    }
    return outcome;
  }

 private:
  std::vector<std::function<void()>> actions_;
};

}  // namespace mercato::core
