#include "libpq.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace mercato::postgres::libpq {
namespace {

template <typename F>
void bind(void* library, F& slot, const char* name) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr)
    throw std::runtime_error(std::string("cannot use PostgreSQL: ") + kLibrary + " has no " + name);
  slot =
      reinterpret_cast<F>(symbol);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's contract
}

Api load() {
  // RTLD_LOCAL: its symbols serve only these pointers. Never closed: connections outlive any scope here.
  void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error(std::string("cannot use PostgreSQL: ") + (why != nullptr ? why : kLibrary) +
                             " (Debian package libpq5)");
  }
  Api a{};
#define MERCATO_LIBPQ_BIND(name) bind(library, a.name, #name)
  MERCATO_LIBPQ_BIND(PQclear);
  MERCATO_LIBPQ_BIND(PQcmdTuples);
  MERCATO_LIBPQ_BIND(PQconnectdb);
  MERCATO_LIBPQ_BIND(PQerrorMessage);
  MERCATO_LIBPQ_BIND(PQexec);
  MERCATO_LIBPQ_BIND(PQexecPrepared);
  MERCATO_LIBPQ_BIND(PQfinish);
  MERCATO_LIBPQ_BIND(PQgetisnull);
  MERCATO_LIBPQ_BIND(PQgetlength);
  MERCATO_LIBPQ_BIND(PQgetvalue);
  MERCATO_LIBPQ_BIND(PQnfields);
  MERCATO_LIBPQ_BIND(PQntuples);
  MERCATO_LIBPQ_BIND(PQprepare);
  MERCATO_LIBPQ_BIND(PQreset);
  MERCATO_LIBPQ_BIND(PQresultErrorField);
  MERCATO_LIBPQ_BIND(PQresultErrorMessage);
  MERCATO_LIBPQ_BIND(PQresultStatus);
  MERCATO_LIBPQ_BIND(PQsetNoticeProcessor);
  MERCATO_LIBPQ_BIND(PQstatus);
  MERCATO_LIBPQ_BIND(PQtransactionStatus);
#undef MERCATO_LIBPQ_BIND
  return a;
}

}  // namespace

const Api& api() {
  // A static's initialisation is thread-safe, and retried on the next call when load() throws.
  static const Api loaded = load();
  return loaded;
}

}  // namespace mercato::postgres::libpq
