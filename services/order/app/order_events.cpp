#include "app/order_events.hpp"

#include <array>
#include <boost/json.hpp>

#include "mercato/events/data.hpp"

namespace mercato::order {
namespace {

constexpr std::string_view kService = "order";

boost::json::object address_json(const Address& a) {
  return {{"name", a.name},
          {"line1", a.line1},
          {"line2", a.line2},
          {"city", a.city},
          {"postal_code", a.postal_code},
          {"country", a.country}};
}

}  // namespace

namespace {

constexpr std::string_view kCreated = "order.created";
constexpr std::string_view kPaymentPending = "order.payment_pending";
constexpr std::string_view kConfirmed = "order.confirmed";
constexpr std::string_view kCancelled = "order.cancelled";

boost::json::object common(const Order& o) {
  return {
      {"order_id", o.id}, {"customer_id", o.customer_id}, {"total_cents", o.total_cents}, {"saga", o.saga}};
}

events::CloudEvent event(std::string_view type, const Order& o, const boost::json::object& data,
                         std::string traceparent = {}) {
  return events::make_event(kService, std::string(type), o.id, boost::json::serialize(data),
                            std::move(traceparent), current_version(type));
}

events::CloudEvent cancelled(const Order& o) {
  // The customer, total and address say what the saga's charge and shipment were: in choreography each
  // participant undoes only its own effect, never someone else's payment or shipment of the order.
  auto data = common(o);
  data["shipping_address"] = address_json(o.shipping_address);
  data["reason"] = o.reason;
  data["cancelled_by"] = to_string(o.cancelled_by);
  data["cancelled_at"] = format_rfc3339(o.updated_at);
  return event(kCancelled, o, std::move(data));
}

events::CloudEvent confirmed(const Order& o) {
  auto data = common(o);
  data["confirmed_at"] = format_rfc3339(o.updated_at);
  return event(kConfirmed, o, std::move(data));
}

// Reading back: every member this code wrote, through the events' own member readers
// (mercato/events/data.hpp). A stream this code cannot read is its own fault, not the caller's: kInternal.
struct Reader {
  const boost::json::object& data;
  const events::CloudEvent& e;

  Error bad(std::string_view key) const {
    return Error::internal("stored " + e.type + " " + e.id + " lacks a valid '" + std::string(key) + "'");
  }
  template <typename T>
  Result<T> stored(Result<T> r, std::string_view key) const {
    if (!r) return bad(key);
    return r;
  }
  Result<std::string> text(std::string_view key) const { return stored(events::text_member(data, key), key); }
  Result<std::int64_t> integer(std::string_view key) const {
    return stored(events::integer_member(data, key), key);
  }
  Result<SystemTime> time(std::string_view key) const {
    MERCATO_ASSIGN_OR_RETURN(auto t, text(key));
    auto parsed = parse_rfc3339(t);
    if (!parsed) return bad(key);
    return *parsed;
  }
  Result<Address> address(std::string_view key) const {
    const auto* v = data.if_contains(key);
    if (v == nullptr || !v->is_object()) return bad(key);
    Reader a{v->as_object(), e};
    Address out;
    MERCATO_ASSIGN_OR_RETURN(out.name, a.text("name"));
    MERCATO_ASSIGN_OR_RETURN(out.line1, a.text("line1"));
    MERCATO_ASSIGN_OR_RETURN(out.line2, a.text("line2"));
    MERCATO_ASSIGN_OR_RETURN(out.city, a.text("city"));
    MERCATO_ASSIGN_OR_RETURN(out.postal_code, a.text("postal_code"));
    MERCATO_ASSIGN_OR_RETURN(out.country, a.text("country"));
    return out;
  }
};

// Upcasters: each turns version N of a type into N + 1, on read. A type's versions only ever go up, and
// a stored event is never rewritten.
using Upcast = void (*)(boost::json::object& data);
struct Upcaster {
  std::string_view type;
  int from;
  Upcast upcast;
};
constexpr std::array kUpcasters = {
    // order.cancelled v1 → v2: v1 did not say who cancelled, and nothing in it tells.
    Upcaster{kCancelled, 1, [](boost::json::object& data) { data["cancelled_by"] = "unknown"; }},
};

Result<OrderEvent> read(const events::CloudEvent& e, const boost::json::object& data) {
  Reader r{data, e};
  if (e.type == kCreated) {
    Order o;
    MERCATO_ASSIGN_OR_RETURN(o.id, r.text("order_id"));
    MERCATO_ASSIGN_OR_RETURN(o.customer_id, r.text("customer_id"));
    MERCATO_ASSIGN_OR_RETURN(o.total_cents, r.integer("total_cents"));
    MERCATO_ASSIGN_OR_RETURN(o.payment_token, r.text("payment_token"));
    MERCATO_ASSIGN_OR_RETURN(o.shipping_address, r.address("shipping_address"));
    MERCATO_ASSIGN_OR_RETURN(o.created_at, r.time("created_at"));
    MERCATO_ASSIGN_OR_RETURN(o.saga, r.text("saga"));
    const auto* lines = data.if_contains("lines");
    if (lines == nullptr || !lines->is_array()) return r.bad("lines");
    for (const auto& item : lines->as_array()) {
      if (!item.is_object()) return r.bad("lines");
      Reader l{item.as_object(), e};
      Line line;
      MERCATO_ASSIGN_OR_RETURN(line.product_id, l.text("product_id"));
      MERCATO_ASSIGN_OR_RETURN(line.quantity, l.integer("quantity"));
      MERCATO_ASSIGN_OR_RETURN(line.unit_price_cents, l.integer("unit_price_cents"));
      o.lines.push_back(std::move(line));
    }
    return OrderEvent{OrderPlaced{std::move(o)}};
  }
  if (e.type == kPaymentPending) {
    MERCATO_ASSIGN_OR_RETURN(auto since, r.time("since"));
    return OrderEvent{PaymentPending{since}};
  }
  if (e.type == kConfirmed) {
    MERCATO_ASSIGN_OR_RETURN(auto at, r.time("confirmed_at"));
    return OrderEvent{OrderConfirmed{at}};
  }
  if (e.type == kCancelled) {
    OrderCancelled c;
    MERCATO_ASSIGN_OR_RETURN(c.reason, r.text("reason"));
    MERCATO_ASSIGN_OR_RETURN(auto by, r.text("cancelled_by"));
    auto parsed = parse_cancelled_by(by);
    if (!parsed) return r.bad("cancelled_by");
    c.by = *parsed;
    MERCATO_ASSIGN_OR_RETURN(c.at, r.time("cancelled_at"));
    return OrderEvent{std::move(c)};
  }
  return Error::internal(e.type + " " + e.id + " is not an order event");
}

}  // namespace

int current_version(std::string_view type) noexcept {
  if (type == kCancelled) return 2;
  if (type == kCreated || type == kPaymentPending || type == kConfirmed) return 1;
  return 0;
}

events::CloudEvent to_cloud_event(const OrderEvent& e, const Order& o, std::string traceparent) {
  if (std::holds_alternative<OrderPlaced>(e)) {
    boost::json::array lines;
    for (const auto& l : o.lines) {
      lines.push_back(
          {{"product_id", l.product_id}, {"quantity", l.quantity}, {"unit_price_cents", l.unit_price_cents}});
    }
    auto data = common(o);
    data["payment_token"] = o.payment_token;
    data["lines"] = std::move(lines);
    data["shipping_address"] = address_json(o.shipping_address);
    data["created_at"] = format_rfc3339(o.created_at);
    return event(kCreated, o, std::move(data), std::move(traceparent));
  }
  if (const auto* pending = std::get_if<PaymentPending>(&e)) {
    auto data = common(o);
    data["since"] = format_rfc3339(pending->at);
    return event(kPaymentPending, o, std::move(data), std::move(traceparent));
  }
  auto out = std::holds_alternative<OrderConfirmed>(e) ? confirmed(o) : cancelled(o);
  out.traceparent = std::move(traceparent);
  return out;
}

namespace {

// The data of a stored order event as its type's current version: parsed once, the upcasters applied.
Result<boost::json::object> current_data(const events::CloudEvent& e) {
  auto current = current_version(e.type);
  if (current == 0) return Error::internal(e.type + " " + e.id + " is not an order event");
  auto version = events::schema_version(e);
  if (version > current) {
    return Error::internal("stored " + e.type + " " + e.id + " is v" + std::to_string(version) +
                           ", newer than this build writes (v" + std::to_string(current) + ")");
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(e.data, ec);
  if (ec || !parsed.is_object())
    return Error::internal("stored " + e.type + " " + e.id + " is not an object");
  auto& data = parsed.as_object();
  for (; version < current; ++version) {
    const Upcaster* found = nullptr;
    for (const auto& u : kUpcasters) {
      if (u.type == e.type && u.from == version) found = &u;
    }
    if (found == nullptr) {
      return Error::internal("no upcaster takes " + e.type + " from v" + std::to_string(version));
    }
    found->upcast(data);
  }
  return std::move(data);
}

}  // namespace

Result<events::CloudEvent> upcast(events::CloudEvent e) {
  MERCATO_ASSIGN_OR_RETURN(auto data, current_data(e));
  auto current = current_version(e.type);
  if (events::schema_version(e) == current) return e;
  e.data = boost::json::serialize(data);
  e.dataschema = events::make_event(kService, e.type, e.subject, "{}", {}, current).dataschema;
  return e;
}

Result<OrderEvent> order_event_from(const events::CloudEvent& stored) {
  MERCATO_ASSIGN_OR_RETURN(auto data, current_data(stored));
  return read(stored, data);
}

events::CloudEvent announcement(const Order& o) {
  return o.status == Status::kConfirmed ? confirmed(o) : cancelled(o);
}

events::CloudEvent saga_command(Step step, const Order& o, std::string traceparent) {
  boost::json::object data{{"order_id", o.id}};
  std::string type;
  switch (step) {
    case Step::kReserve: {
      type = "inventory.reserve_requested";
      boost::json::array lines;
      for (const auto& l : o.lines) lines.push_back({{"product_id", l.product_id}, {"quantity", l.quantity}});
      data["lines"] = std::move(lines);
      break;
    }
    case Step::kCommit:
      type = "inventory.commit_requested";
      break;
    case Step::kRelease:
      type = "inventory.release_requested";
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
    case Step::kCharge:
      type = "payment.charge_requested";
      data["customer_id"] = o.customer_id;
      data["amount_cents"] = o.total_cents;
      data["payment_token"] = o.payment_token;
      break;
    case Step::kRefund:
      // What the charge was, so payment refunds that charge and not someone else's payment of the order.
      type = "payment.refund_requested";
      data["customer_id"] = o.customer_id;
      data["amount_cents"] = o.total_cents;
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
    case Step::kShip: {
      type = "shipment.create_requested";
      data["customer_id"] = o.customer_id;
      data["shipping_address"] = address_json(o.shipping_address);
      break;
    }
    case Step::kCancelShipment:
      // What the shipment was, so shipping cancels that one and not someone else's shipment of the order.
      type = "shipment.cancel_requested";
      data["customer_id"] = o.customer_id;
      data["shipping_address"] = address_json(o.shipping_address);
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
  }
  return events::make_event(kService, std::move(type), o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

}  // namespace mercato::order
