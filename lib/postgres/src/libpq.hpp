// libpq, opened when a service first opens a PostgreSQL database instead of linked into every binary.
// Linked, libpq brought LDAP, Kerberos and GnuTLS with it (libldap and libgssapi_krb5 are its own
// dependencies on Debian), and every service loaded them — about 3 MB resident each — whether it ran on
// PostgreSQL or, as `./mercato up` runs them, on SQLite (docs/benchmarks.md, 14). Written by hand
// because the choice is made at run time by configuration: a dlopen of the library's soname and one
// dlsym per function postgres.cpp calls; the types and constants still come from <libpq-fe.h>.
#pragma once

#include <libpq-fe.h>

namespace mercato::postgres::libpq {

// The functions postgres.cpp calls, each as libpq declares it (PQ<name> as <name>).
struct Api {
  decltype(&::PQclear) clear;
  decltype(&::PQcmdTuples) cmd_tuples;
  decltype(&::PQconnectdb) connectdb;
  decltype(&::PQerrorMessage) error_message;
  decltype(&::PQexec) exec;
  decltype(&::PQexecPrepared) exec_prepared;
  decltype(&::PQfinish) finish;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQnfields) nfields;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQprepare) prepare;
  decltype(&::PQreset) reset;
  decltype(&::PQresultErrorField) result_error_field;
  decltype(&::PQresultErrorMessage) result_error_message;
  decltype(&::PQresultStatus) result_status;
  decltype(&::PQsetNoticeProcessor) set_notice_processor;
  decltype(&::PQstatus) status;
  decltype(&::PQtransactionStatus) transaction_status;
};

// The soname opened (Debian's libpq5).
inline constexpr const char* kLibrary = "libpq.so.5";

// libpq's functions, the library opened on the first call. Throws std::runtime_error naming the library
// and the loader's reason when it cannot be opened or lacks a function; the first call is
// Database::open's, at start-up. Thread-safe.
const Api& api();

}  // namespace mercato::postgres::libpq
