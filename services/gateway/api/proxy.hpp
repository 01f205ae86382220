// The gateway's proxy handler: /api/{service}[/{rest...}] → the service's upstream.
//
// Forwards method, body and end-to-end headers; drops hop-by-hop headers (and any named in Connection);
// sets X-Request-ID, traceparent (the gateway's own span as parent), X-Forwarded-For/-Proto; answers an
// unknown service with 404, an unreachable upstream with 503, a slow one with 504 and an unusable answer
// with 502 — always the JSON error shape, always within the configured timeouts.
//
// First the bearer token, if any, is verified (401 with WWW-Authenticate when it fails; a service's token
// is refused with 403: services call each other directly). Which roles may use a route is each service's
// decision, checked there again with the same keys. Then the traffic policy in force (app/traffic.hpp)
// applies to every request, in this order: the per-client
// and per-route rate limits (429 with Retry-After), the route (header match, then weighted subsets), the
// circuit breaker (open: 503 at once, with Retry-After), the connection pool (full: 503 at once; a
// pending request waits for a slot no longer than its timeout), the load balancer over the subset's
// instances not ejected by outlier detection, and retries — with backoff and full jitter, only for
// idempotent requests or ones with an Idempotency-Key, within the retry budget and the deadline. The
// client identity for per-client limits is the verified token's subject, else the client address.
//
// Thread-safety: the handler is called on the I/O threads; the route table is read-only.
#pragma once

#include "app/traffic.hpp"
#include "domain/routes.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::gateway {

// What the proxy routes need; it must outlive the router.
struct Entry {
  const RouteTable& table;
  const PolicyHolder& policies;
  const service::Identity& identity;
};

// The upstream calls go through the policy's resilience::Upstream objects (and their client).
void register_routes(http::Router& router, const Entry& entry);

}  // namespace mercato::gateway
