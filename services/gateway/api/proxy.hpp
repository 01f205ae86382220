// The gateway's proxy handler: /api/{service}[/{rest...}] → the service's upstream.
//
// Forwards method, body and end-to-end headers; drops hop-by-hop headers (and any named in Connection);
// sets X-Request-ID, traceparent (the gateway's own span as parent), X-Forwarded-For/-Proto; answers an
// unknown service with 404, an unreachable upstream with 503, a slow one with 504 and an unusable answer
// with 502 — always the JSON error shape, always within the configured timeouts.
//
// Thread-safety: the handler is called on the I/O threads; the route table is read-only.
#pragma once

#include "domain/routes.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/router.hpp"

namespace mercato::gateway {

void register_routes(http::Router& router, const RouteTable& table, http::Client& client);

}  // namespace mercato::gateway
