#include "mercato/http/io_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

namespace mercato::http {
namespace {
thread_local int t_worker = -1;
}

struct IoPool::Impl {
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<Guard> guards;
  std::vector<std::thread> threads;
};

IoPool::IoPool(std::size_t threads) : impl_(std::make_unique<Impl>()) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is only ever run by one thread, so Asio can skip some locking.
    impl_->contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    impl_->guards.emplace_back(impl_->contexts.back()->get_executor());
  }
}

IoPool::~IoPool() {
  stop();
  join();
}

std::size_t IoPool::size() const noexcept { return impl_->contexts.size(); }

boost::asio::io_context& IoPool::context(std::size_t index) { return *impl_->contexts.at(index); }

void IoPool::start() {
  for (std::size_t i = 0; i < impl_->contexts.size(); ++i) {
    impl_->threads.emplace_back([this, i] {
      t_worker = static_cast<int>(i);
      impl_->contexts[i]->run();
    });
  }
}

void IoPool::join() {
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

void IoPool::stop() {
  for (auto& c : impl_->contexts) c->stop();
}

int IoPool::current_worker() noexcept { return t_worker; }

}  // namespace mercato::http
