#include "mercato/service/blocking.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <memory>

namespace mercato::service {

Result<void> BlockingPoolSettings::validate() const {
  if (threads < 1 || threads > 64) return Error::validation("threads", "must be within 1..64");
  if (max_waiting < threads) return Error::validation("max_waiting", "must be at least threads");
  if (max_group < 1) return Error::validation("max_group", "must be at least 1");
  return {};
}

BlockingPool::BlockingPool(BlockingPoolSettings settings) : settings_(std::move(settings)) {
  if (settings_.max_group < 1) settings_.max_group = 1;
  threads_.reserve(settings_.threads);
  for (std::size_t i = 0; i < settings_.threads; ++i) threads_.emplace_back([this] { serve(); });
}

BlockingPool::~BlockingPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  for (auto& t : threads_) t.join();
}

boost::asio::awaitable<bool> BlockingPool::submit(std::function<void()> work) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(bool)>(
      [this](auto handler, std::function<void()> call) {
        // The caller resumes on its own executor (its I/O thread), never on a pool thread. The handler
        // is move-only and Call's std::function copyable: shared.
        auto executor = boost::asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        enqueue({std::move(call), [shared, executor](bool kept) {
                   boost::asio::post(executor, [shared, kept] { (*shared)(kept); });
                 }});
      },
      boost::asio::use_awaitable, std::move(work));
}

void BlockingPool::enqueue(Call call) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(call));
  }
  queued_.notify_one();
}

void BlockingPool::serve() {
  std::vector<Call> calls;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued call ran
      std::size_t n = settings_.group ? std::min(queue_.size(), settings_.max_group) : 1;
      for (std::size_t i = 0; i < n; ++i) {
        calls.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (calls.size() == 1) {
      calls.front().work();
      calls.front().done(true);
    } else {
      bool kept = false;
      try {
        kept = static_cast<bool>(settings_.group([&calls] {
          for (auto& call : calls) call.work();
        }));
      } catch (...) {
        kept = false;  // BEGIN or COMMIT threw: nothing of the group was kept
      }
      if (groups_counter_ != nullptr) groups_counter_->inc();
      if (grouped_counter_ != nullptr) grouped_counter_->inc(calls.size());
      for (auto& call : calls) call.done(kept);
    }
    calls.clear();
  }
}

}  // namespace mercato::service
