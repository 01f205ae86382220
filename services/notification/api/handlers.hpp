// The notification service's HTTP API (contract: api/notification.yaml): JSON in, JSON out, errors in
// the one shape. Translates between HTTP and the use cases; holds no logic of its own.
//
// Thread-safety: the handlers keep no state; they are as thread-safe as the service they call.
#pragma once

#include "app/notification_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::notification {

// POST /notifications, GET /notifications?customer_id=&limit=
void register_routes(http::Router& router, NotificationService& service, const service::Identity& identity);

}  // namespace mercato::notification
