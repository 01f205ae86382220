// gRPC statuses and Mercato's canonical errors, one into the other by the one table of lib/core
// (core/error.hpp: each code's HTTP status and gRPC code in one row).
//
//   co_return rpc::to_status(Error::not_found("user", id));   // NOT_FOUND "user u1 not found"
//   if (!status.ok()) return rpc::to_error(status);          // kDeadlineExceeded for DEADLINE_EXCEEDED
//
// A 5xx error's private text never travels: the status carries what a client may be told
// (core::client_message), as an HTTP error body would.
#pragma once

#include <grpcpp/support/status.h>

#include "mercato/core/error.hpp"

namespace mercato::rpc {

grpc::Status to_status(const Error& error);
// The error a failed status stands for, its message the status's (the server's public text).
Error to_error(const grpc::Status& status);
// Whether a status counts as a failure of the instance for the circuit breaker, outlier detection and
// retries: what maps to a 5xx (no connection, no answer in time, an internal error), as for HTTP.
bool is_failure(const grpc::Status& status);

}  // namespace mercato::rpc
