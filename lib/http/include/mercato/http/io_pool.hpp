// IoPool: the threads that run all network I/O of a process, share-nothing style.
//
// Each worker thread runs its own single-threaded io_context. A connection, and every handler and
// upstream call made for it, lives on one worker for its whole life, so per-connection state needs no
// locks or strands. The server binds one SO_REUSEPORT acceptor per worker and lets the kernel spread
// connections; the HTTP client keeps one connection pool per worker.
//
//   http::IoPool pool(settings.threads);
//   http::Server server(pool, ...);
//   server.start();
//   pool.start();          // one thread per worker
//   ...                    // wait for a signal, server.shutdown(...), pool.stop()
//   pool.join();
//
// Thread-safety: start(), stop() and join() may be called from any thread; context(i) is stable for the
// pool's life.
#pragma once

#include <cstddef>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace mercato::http {

class IoPool {
 public:
  explicit IoPool(std::size_t threads);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  std::size_t size() const noexcept;
  boost::asio::io_context& context(std::size_t index);
  // Starts one thread per context; they run until stop().
  void start();
  // Makes every context return from run() as soon as possible (pending handlers are abandoned).
  void stop();
  // Waits for the threads started by start() to finish.
  void join();

  // The index of the worker running the calling thread, or -1 outside the pool.
  static int current_worker() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mercato::http
