// The user service over gRPC (api/user.proto): what other services ask it, served on the service's own
// port beside the REST API (lib/rpc). Only services may ask (their own token, as over HTTP).
//
// Thread-safety: calls run on the service's I/O threads, as HTTP handlers do; their storage reads on the
// storage pool when there is one (a network database: service.hpp, Context::storage_pool).
#pragma once

#include "app/user_service.hpp"
#include "mercato/api/user.grpc.pb.h"
#include "mercato/rpc/server.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::user {

class UsersGrpc final : public mercato::user::v1::Users::CallbackService {
 public:
  UsersGrpc(rpc::Server& server, UserService& users, const service::Identity& identity,
            service::BlockingPool* storage = nullptr)
      : server_(server), users_(users), identity_(identity), storage_(storage) {}

  grpc::ServerUnaryReactor* CustomerExists(grpc::CallbackServerContext* call,
                                           const v1::CustomerExistsRequest* request,
                                           v1::CustomerExistsReply* reply) override;

 private:
  rpc::Server& server_;
  UserService& users_;
  const service::Identity& identity_;
  service::BlockingPool* storage_;
};

}  // namespace mercato::user
