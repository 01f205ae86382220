#include "mercato/rpc/status.hpp"

namespace mercato::rpc {

grpc::Status to_status(const Error& error) {
  return {static_cast<grpc::StatusCode>(grpc_status_code(error.code)), std::string(client_message(error))};
}

Error to_error(const grpc::Status& status) {
  if (status.ok()) return Error::internal("an OK status is not an error");
  return {from_grpc_status_code(status.error_code()), status.error_message(), {}};
}

bool is_failure(const grpc::Status& status) {
  return !status.ok() && http_status(from_grpc_status_code(status.error_code())) >= 500;
}

}  // namespace mercato::rpc
