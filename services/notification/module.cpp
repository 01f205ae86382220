// The notification service: notifications recorded in the service's own SQLite database and sent as
// lines of an outbox file, behind the REST API in api/ (contract: api/notification.yaml); every recorded
// notification published as notification.sent through the transactional outbox (the repository appends
// it), and order.confirmed and order.cancelled turned into notices.
#include "module.hpp"

#include "adapters/file_outbox.hpp"
#include "adapters/sql_notification_repository.hpp"
#include "api/handlers.hpp"
#include "app/order_events.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::notification {

void set_up(service::Context& ctx) {
  // SQLite, or PostgreSQL with database.url; the event store in the same database (lib/storage).
  auto [repository, event_store] = storage::open_repository_with_events<notification::NotificationRepository>(
      ctx, {.sql = [](sql::Database& db) {
        return std::make_unique<notification::SqlNotificationRepository>(db);
      }});
  auto outbox_file =
      ctx.config().section("notification").string("outbox_file", "var/notification/outbox.log");
  auto& outbox = ctx.own(std::make_unique<notification::FileOutbox>(outbox_file));
  auto& notifications = ctx.own(std::make_unique<notification::NotificationService>(repository, outbox));
  ctx.add_readiness_check("outbox", [&outbox] { return outbox.ping(); });
  notification::register_routes(ctx.router(), notifications, service::attach_identity(ctx));
  // The effect is idempotent by its natural key (one notification per order and kind), so the inbox
  // record is the notification itself; order.created is recorded in the event inbox. The store is the
  // repository's database, so its relay publishes what record_once appended.
  auto& bus = events::attach(ctx, event_store);
  bus.record_only("order.created");
  bus.on("order.confirmed", [&notifications](const events::CloudEvent& e) {
    return notification::on_order_confirmed(notifications, e);
  });
  bus.on("order.cancelled", [&notifications](const events::CloudEvent& e) {
    return notification::on_order_cancelled(notifications, e);
  });
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
}

}  // namespace mercato::notification
