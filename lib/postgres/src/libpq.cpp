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
#define MERCATO_LIBPQ_BIND(member, name) bind(library, a.member, #name)
  MERCATO_LIBPQ_BIND(clear, PQclear);
  MERCATO_LIBPQ_BIND(cmd_tuples, PQcmdTuples);
  MERCATO_LIBPQ_BIND(connectdb, PQconnectdb);
  MERCATO_LIBPQ_BIND(error_message, PQerrorMessage);
  MERCATO_LIBPQ_BIND(exec, PQexec);
  MERCATO_LIBPQ_BIND(exec_prepared, PQexecPrepared);
  MERCATO_LIBPQ_BIND(finish, PQfinish);
  MERCATO_LIBPQ_BIND(getisnull, PQgetisnull);
  MERCATO_LIBPQ_BIND(getlength, PQgetlength);
  MERCATO_LIBPQ_BIND(getvalue, PQgetvalue);
  MERCATO_LIBPQ_BIND(nfields, PQnfields);
  MERCATO_LIBPQ_BIND(ntuples, PQntuples);
  MERCATO_LIBPQ_BIND(prepare, PQprepare);
  MERCATO_LIBPQ_BIND(reset, PQreset);
  MERCATO_LIBPQ_BIND(result_error_field, PQresultErrorField);
  MERCATO_LIBPQ_BIND(result_error_message, PQresultErrorMessage);
  MERCATO_LIBPQ_BIND(result_status, PQresultStatus);
  MERCATO_LIBPQ_BIND(set_notice_processor, PQsetNoticeProcessor);
  MERCATO_LIBPQ_BIND(status, PQstatus);
  MERCATO_LIBPQ_BIND(transaction_status, PQtransactionStatus);
#undef MERCATO_LIBPQ_BIND
  return a;
}

}  // namespace

const Api& api() {
  // A static's initialisation is thread-safe, and retried on the next call when load() throws.
  static const Api kLoaded = load();
  return kLoaded;
}

}  // namespace mercato::postgres::libpq
