// The bus as a service uses it (events::attach) and the choice of transport by URL (open_transport):
// the one part of lib/events that knows lib/service and every transport, built as the mercato_events
// target above the transport-neutral core (lib/events/CMakeLists.txt).
#include <unistd.h>

#include <boost/json.hpp>

#include "mercato/events/bus.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/http/message.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/service/service.hpp"

namespace mercato::events {

Result<std::unique_ptr<Transport>> open_transport(const TransportSettings& settings) {
  const std::string& url = settings.url;
  if (settings.partitions < 1 || settings.partitions > 256)
    return Error::validation("events.partitions", "must be between 1 and 256");
  if (url.starts_with("nats://")) return open_nats(settings);
  if (url.starts_with("kafka://")) return open_kafka(settings);
  if (url.starts_with("inprocess://")) return open_in_process(settings);
  return Error::validation("events.url",
                           "unknown event transport '" + url +
                               "' (expected nats://host:port, kafka://host:port or inprocess://name)");
}

namespace {

boost::json::object to_json_object(const DeadLetter& d) {
  boost::json::object o;
  o["id"] = d.id;
  o["consumer"] = d.consumer;
  o["error"] = d.error;
  o["attempts"] = d.attempts;
  o["failed_at"] = format_rfc3339(d.failed_at);
  o["event"] = boost::json::parse(to_json(d.event));
  return o;
}

}  // namespace

Bus& attach(service::Context& ctx, EventStore& store) {
  auto section = ctx.config().section("events");
  TransportSettings ts;
  ts.url = section.string("url", ctx.default_events_url());
  ts.prefix = section.string("prefix", "mercato");
  ts.partitions = static_cast<int>(section.integer("partitions", 8, 1, 256));
  ts.client_id = ctx.name() + "-" + std::to_string(::getpid());
  ts.publish_timeout = section.duration("publish_timeout", std::chrono::seconds(5));
  ts.message_batch = static_cast<int>(section.integer("message_batch", 64, 1, 1000));
  BusSettings bs;
  bs.service = ctx.name();
  bs.max_deliver = static_cast<int>(section.integer("max_deliver", 5, 1, 1000));
  bs.retry_delay = section.duration("retry_delay", std::chrono::milliseconds(200));
  bs.max_retry_delay = section.duration("max_retry_delay", std::chrono::seconds(10));
  bs.ack_wait = section.duration("ack_wait", std::chrono::seconds(30));
  bs.relay_poll = section.duration("relay_poll", std::chrono::milliseconds(500));
  bs.retention = section.duration("retention", std::chrono::hours(24));
  auto transport = open_transport(ts);
  if (!transport) throw config::ConfigError("events.url: " + transport.error().message);
  auto& t = ctx.own(std::move(*transport));
  auto& bus = ctx.own(std::make_unique<Bus>(t, store, bs, ctx.logger(), ctx.metrics(), ctx.tracer()));
  ctx.add_readiness_check("events", [&t] { return t.ping(); });

  // Operators' tools: admins only (and services, for automation).
  auto& identity = ctx.identity() != nullptr ? *ctx.identity() : service::attach_identity(ctx);
  ctx.router().get("/admin/dead-letters",
                   service::guard(identity, auth::kStaff, [&bus](const auto& req, const auto&) {
                     auto letters = bus.dead_letters();
                     // An operator tool on the service's own port: the full error text is the point.
                     if (!letters) return http::Response::error_verbatim(letters.error(), req.request_id, {});
                     boost::json::array items;
                     for (const auto& d : *letters) items.push_back(to_json_object(d));
                     boost::json::object body;
                     body["dead_letters"] = std::move(items);
                     return http::Response::json(200, body);
                   }));
  ctx.router().post("/admin/dead-letters/{id}/redrive",
                    service::guard(identity, auth::kStaff, [&bus](const auto& req, const auto&) {
                      auto r = bus.redrive(req.param("id"));
                      if (!r) return http::Response::error_verbatim(r.error(), req.request_id, {});
                      boost::json::object body;
                      body["redriven"] = std::string(req.param("id"));
                      return http::Response::json(200, body);
                    }));
  return bus;
}

}  // namespace mercato::events
