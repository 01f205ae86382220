#include "libpq.hpp"

#include "mercato/core/shared_library.hpp"

namespace mercato::postgres::libpq {
namespace {

Api load() {
  SharedLibrary library(kLibrary, "PostgreSQL", "libpq5");
  Api a{};
#define MERCATO_LIBPQ_BIND(member, name) library.bind(a.member, #name)
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
