// A shared library opened at run time, for a library chosen by configuration (libpq for PostgreSQL,
// librdkafka for Kafka) that a process should not load unless it is configured to use it
// (docs/benchmarks.md, 14 and 18: linked, each cost every process megabytes of memory it never used).
//
//   SharedLibrary lib("libpq.so.5", "PostgreSQL", "libpq5");
//   lib.bind(api.exec, "PQexec");   // or throws, naming the library and the function
//
// The library is opened with RTLD_NOW | RTLD_LOCAL (its symbols serve only the pointers bound) and never
// closed: what it creates (connections, threads) outlives any scope here.
//
// Thread-safety: construct once (a function-local static); bind during that construction.
#pragma once

#include <string>

namespace mercato {

class SharedLibrary {
 public:
  // Throws std::runtime_error "cannot use <what>: <the loader's reason> (Debian package <package>)".
  // `soname` is a string literal, kept as it is: the container images find the libraries a binary opens
  // by their sonames in its bytes (deploy/containers/collect.sh), and a short std::string built from a
  // literal may be compiled into immediate stores, leaving no such bytes in a stripped binary.
  SharedLibrary(const char* soname, std::string what, const std::string& package);

  // Sets `slot` to the function `name`; throws std::runtime_error naming the library and the function
  // when it has none.
  template <typename F>
  void bind(F& slot, const char* name) const {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's contract
    slot = reinterpret_cast<F>(symbol(name));
  }

 private:
  void* symbol(const char* name) const;

  const char* soname_;
  std::string what_;
  void* handle_ = nullptr;
};

}  // namespace mercato
