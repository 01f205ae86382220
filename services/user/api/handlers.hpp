// The user service's HTTP API (contract: api/user.yaml, later issue): JSON in, JSON out, errors in the
// one shape. Translates between HTTP and the use cases; holds no logic of its own.
#pragma once

#include "app/user_service.hpp"
#include "mercato/http/router.hpp"

namespace mercato::user {

// POST /users, GET /users/{id}, PATCH /users/{id}
void register_routes(http::Router& router, UserService& service);

}  // namespace mercato::user
