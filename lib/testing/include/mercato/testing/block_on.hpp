// Runs a coroutine on a worker of an IoPool and waits for its result, for tests of asynchronous code
// that want to read like synchronous code (the test thread blocks; the pool's threads must be running).
//
//   http::IoPool pool(1);  pool.start();
//   auto range = testing::block_on(pool, etcd.get("/key"));   // Result<etcd::Range>
//
// A coroutine that throws rethrows on the test thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <future>
#include <optional>
#include <utility>

#include "mercato/http/io_pool.hpp"

namespace mercato::testing {

template <typename T>
T block_on(http::IoPool& pool, boost::asio::awaitable<T> task, std::size_t worker = 0) {
  std::optional<T> out;
  std::promise<void> done;
  // Result types need not be default-constructible: the value is moved out inside the coroutine.
  auto wrapper = [](boost::asio::awaitable<T> inner, std::optional<T>& slot) -> boost::asio::awaitable<void> {
    slot.emplace(co_await std::move(inner));
  };
  boost::asio::co_spawn(pool.context(worker), wrapper(std::move(task), out),
                        [&done](const std::exception_ptr& e) {
                          if (e)
                            done.set_exception(e);
                          else
                            done.set_value();
                        });
  done.get_future().get();
  return std::move(*out);
}

}  // namespace mercato::testing
