#include "adapters/redis_inventory_repository.hpp"

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <optional>
#include <vector>

#include "adapters/redis_event_store.hpp"

namespace mercato::inventory {
namespace {

// Every script that changes state takes the outbox keys (redis_outbox_keys) as its last three KEYS and
// the events to append as its last ARGVs, and appends them — with append_outbox, defined by
// kRedisAppendOutboxLua — on the path that changes something, after every check: a refused or replayed
// call appends nothing, and the change and its events are one atomic script.

// KEYS[1] product, KEYS[2..4] outbox. ARGV: name, price_cents, available, now_ms, events...
// → {"created"} or {"replaced", reserved, sold, created_at_ms}
const redis::Script kPutProduct(std::string(kRedisAppendOutboxLua) + R"lua(
local kept = redis.call('HMGET', KEYS[1], 'reserved', 'sold', 'created_at_ms')
local answer = {'created'}
if kept[1] then
  redis.call('HSET', KEYS[1], 'name', ARGV[1], 'price_cents', ARGV[2], 'available', ARGV[3],
             'updated_at_ms', ARGV[4])
  answer = {'replaced', kept[1], kept[2], kept[3]}
else
  redis.call('HSET', KEYS[1], 'name', ARGV[1], 'price_cents', ARGV[2], 'available', ARGV[3], 'reserved', '0',
             'sold', '0', 'created_at_ms', ARGV[4], 'updated_at_ms', ARGV[4])
end
append_outbox(KEYS[2], KEYS[3], KEYS[4], 5)
return answer
)lua");

// KEYS[1] reservation, KEYS[1 + i] product of line i, then the 3 outbox keys. ARGV[1] now_ms, ARGV[2i]
// product_id, ARGV[2i + 1] quantity of line i, then the events. Lines are reported 0-based.
// → {"exists", status, items, created_at_ms, updated_at_ms} | {"missing", line} |
//   {"short", line, available} | {"created", items}
const redis::Script kReserve(std::string(kRedisAppendOutboxLua) + R"lua(
local existing = redis.call('HMGET', KEYS[1], 'status', 'items', 'created_at_ms', 'updated_at_ms')
if existing[1] then
  return {'exists', existing[1], existing[2], existing[3], existing[4]}
end
local n = #KEYS - 4
local prices = {}
for i = 1, n do
  local p = redis.call('HMGET', KEYS[i + 1], 'available', 'price_cents')
  if not p[1] then return {'missing', tostring(i - 1)} end
  if tonumber(p[1]) < tonumber(ARGV[2 * i + 1]) then return {'short', tostring(i - 1), p[1]} end
  prices[i] = p[2]
end
local items = {}
for i = 1, n do
  local quantity = ARGV[2 * i + 1]
  redis.call('HINCRBY', KEYS[i + 1], 'available', '-' .. quantity)
  redis.call('HINCRBY', KEYS[i + 1], 'reserved', quantity)
  redis.call('HSET', KEYS[i + 1], 'updated_at_ms', ARGV[1])
  items[i] = {ARGV[2 * i], quantity, prices[i]}
end
local encoded = cjson.encode(items)
redis.call('HSET', KEYS[1], 'status', 'reserved', 'items', encoded, 'created_at_ms', ARGV[1],
           'updated_at_ms', ARGV[1])
append_outbox(KEYS[n + 2], KEYS[n + 3], KEYS[n + 4], 2 * n + 2)
return {'created', encoded}
)lua");

// KEYS[1] reservation, KEYS[1 + i] product of line i, then the 3 outbox keys. ARGV[1] target status,
// ARGV[2] now_ms, ARGV[3] the items read before (must still match), ARGV[3 + i] quantity of line i, then
// the events.
// → {"missing"} | {"changed"} | {"final", status, updated_at_ms} | {"short", line, reserved} | {"moved"}
const redis::Script kSettle(std::string(kRedisAppendOutboxLua) + R"lua(
local r = redis.call('HMGET', KEYS[1], 'status', 'updated_at_ms', 'items')
if not r[1] then return {'missing'} end
if r[3] ~= ARGV[3] then return {'changed'} end
if r[1] ~= 'reserved' then return {'final', r[1], r[2]} end
local n = #KEYS - 4
for i = 1, n do
  local held = redis.call('HGET', KEYS[i + 1], 'reserved')
  if not held or tonumber(held) < tonumber(ARGV[3 + i]) then return {'short', tostring(i - 1), held or ''} end
end
local to = 'available'
if ARGV[1] == 'committed' then to = 'sold' end
for i = 1, n do
  local quantity = ARGV[3 + i]
  redis.call('HINCRBY', KEYS[i + 1], 'reserved', '-' .. quantity)
  redis.call('HINCRBY', KEYS[i + 1], to, quantity)
  redis.call('HSET', KEYS[i + 1], 'updated_at_ms', ARGV[2])
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at_ms', ARGV[2])
append_outbox(KEYS[n + 2], KEYS[n + 3], KEYS[n + 4], n + 4)
return {'moved'}
)lua");

std::string ms_text(SystemTime t) { return std::to_string(t.time_since_epoch().count()); }

Error corrupt(std::string_view what) {
  return Error::internal("redis inventory data is corrupt: " + std::string(what));
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

Result<std::int64_t> integer_of(const redis::Reply& reply, std::string_view what) {
  auto n = parse_int(reply.as_text());
  if (!n) return corrupt(std::string(what) + " is not an integer");
  return *n;
}

Result<SystemTime> time_of(const redis::Reply& reply, std::string_view what) {
  MERCATO_ASSIGN_OR_RETURN(auto n, integer_of(reply, what));
  return SystemTime{std::chrono::milliseconds{n}};
}

// The script's answer: an array whose first element names the outcome.
Result<const std::vector<redis::Reply>*> outcome(const Result<redis::Reply>& reply) {
  if (!reply) return reply.error();
  if (reply->type != redis::Reply::Type::kArray || reply->elements.empty()) {
    return Error::internal("redis inventory script returned an unexpected reply");
  }
  return &reply->elements;
}

Result<std::vector<ReservationLine>> parse_items(std::string_view json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec || !value.is_array()) return corrupt("reservation items are not a JSON array");
  std::vector<ReservationLine> lines;
  for (const auto& entry : value.as_array()) {
    const auto* fields = entry.if_array();
    if (fields == nullptr || fields->size() != 3 || !(*fields)[0].is_string() || !(*fields)[1].is_string() ||
        !(*fields)[2].is_string()) {
      return corrupt("a reservation line is not [product_id, quantity, price_cents]");
    }
    auto quantity = parse_int((*fields)[1].as_string());
    auto price = parse_int((*fields)[2].as_string());
    if (!quantity || !price) return corrupt("a reservation line holds a non-integer");
    lines.push_back({std::string((*fields)[0].as_string()), *quantity, *price});
  }
  return lines;
}

// status, items, created_at_ms, updated_at_ms as the reserve script and HMGET return them.
Result<Reservation> reservation_of(std::string_view order_id, const redis::Reply* fields) {
  auto status = parse_reservation_status(fields[0].as_text());
  if (!status) return corrupt("reservation " + std::string(order_id) + " has an unknown status");
  MERCATO_ASSIGN_OR_RETURN(auto items, parse_items(fields[1].as_text()));
  MERCATO_ASSIGN_OR_RETURN(auto created, time_of(fields[2], "created_at_ms"));
  MERCATO_ASSIGN_OR_RETURN(auto updated, time_of(fields[3], "updated_at_ms"));
  return Reservation{std::string(order_id), *status, std::move(items), created, updated};
}

Error not_found_product(std::string_view id) {
  return Error::not_found("product " + std::string(id) + " not found");
}
Error no_reservation(std::string_view order_id) {
  return Error::not_found("order " + std::string(order_id) + " has no reservation");
}

std::string item_field(std::size_t index, std::string_view name) {
  return "items[" + std::to_string(index) + "]." + std::string(name);
}

// After a script that appended events: wakes the relay of the event store sharing `client` (the store's
// commit is the script; RedisEventStore::signal_key()).
void appended(const redis::Client& client, std::span<const events::CloudEvent> events) {
  if (!events.empty()) events::outbox_signal::raise(&client);
}

void add_outbox_keys(std::vector<std::string>& keys, std::string_view prefix) {
  for (auto& k : redis_outbox_keys(prefix)) keys.push_back(std::move(k));
}

}  // namespace

RedisInventoryRepository::RedisInventoryRepository(redis::Client& client, std::string key_prefix)
    : client_(client), prefix_(std::move(key_prefix)) {}

std::string RedisInventoryRepository::product_key(std::string_view product_id) const {
  return prefix_ + "product:" + std::string(product_id);
}

std::string RedisInventoryRepository::reservation_key(std::string_view order_id) const {
  return prefix_ + "reservation:" + std::string(order_id);
}

Result<PutProductResult> RedisInventoryRepository::put_product(const std::string& product_id,
                                                               const ProductInput& input, SystemTime now,
                                                               std::span<const events::CloudEvent> events) {
  std::vector<std::string> keys{product_key(product_id)};
  add_outbox_keys(keys, prefix_);
  std::vector<std::string> args{input.name, std::to_string(input.price_cents),
                                std::to_string(input.available), ms_text(now)};
  MERCATO_RETURN_IF_ERROR(add_outbox_envelopes(args, events));
  auto reply = client_.eval(kPutProduct, keys, args);
  MERCATO_ASSIGN_OR_RETURN(auto out, outcome(reply));
  appended(client_, events);  // either answer changed the product
  const auto& e = *out;
  if (e[0].text == "created") return PutProductResult{make_product(product_id, input, now), true};
  if (e[0].text != "replaced" || e.size() != 4) return Error::internal("put script: unexpected answer");
  MERCATO_ASSIGN_OR_RETURN(auto reserved, integer_of(e[1], "reserved"));
  MERCATO_ASSIGN_OR_RETURN(auto sold, integer_of(e[2], "sold"));
  MERCATO_ASSIGN_OR_RETURN(auto created, time_of(e[3], "created_at_ms"));
  Product product{product_id, {}, 0, 0, reserved, sold, created, created};
  replace(product, input, now);
  return PutProductResult{std::move(product), false};
}

Result<Product> RedisInventoryRepository::find_product(std::string_view product_id) {
  MERCATO_ASSIGN_OR_RETURN(
      auto reply, client_.command({"HMGET", product_key(product_id), "name", "price_cents", "available",
                                   "reserved", "sold", "created_at_ms", "updated_at_ms"}));
  const auto& f = reply.elements;
  if (f.size() != 7) return Error::internal("redis: unexpected HMGET reply");
  if (f[0].is_nil()) return not_found_product(product_id);
  std::array<std::int64_t, 4> numbers{};
  for (std::size_t i = 0; i < 4; ++i) {
    MERCATO_ASSIGN_OR_RETURN(auto n, integer_of(f[i + 1], "product stock"));
    numbers[i] = n;
  }
  MERCATO_ASSIGN_OR_RETURN(auto created, time_of(f[5], "created_at_ms"));
  MERCATO_ASSIGN_OR_RETURN(auto updated, time_of(f[6], "updated_at_ms"));
  return Product{
      std::string(product_id), f[0].text, numbers[0], numbers[1], numbers[2], numbers[3], created, updated};
}

Result<ReserveResult> RedisInventoryRepository::reserve(const ReservationRequest& request, SystemTime now,
                                                        std::span<const events::CloudEvent> events) {
  std::vector<std::string> keys{reservation_key(request.order_id)};
  std::vector<std::string> args{ms_text(now)};
  for (const auto& item : request.items) {
    keys.push_back(product_key(item.product_id));
    args.push_back(item.product_id);
    args.push_back(std::to_string(item.quantity));
  }
  add_outbox_keys(keys, prefix_);
  MERCATO_RETURN_IF_ERROR(add_outbox_envelopes(args, events));
  auto reply = client_.eval(kReserve, keys, args);
  MERCATO_ASSIGN_OR_RETURN(auto out, outcome(reply));
  const auto& e = *out;
  const auto& kind = e[0].text;
  if (kind == "exists" && e.size() == 5) {
    MERCATO_ASSIGN_OR_RETURN(auto existing, reservation_of(request.order_id, &e[1]));
    if (!same_items(existing, request)) {
      return Error::conflict("order " + request.order_id + " already has a reservation with other items",
                             "order_id");
    }
    return ReserveResult{std::move(existing), false};
  }
  if ((kind == "missing" || kind == "short") && e.size() >= 2) {
    // The same answers as the domain's reserve(), which the SQLite adapter runs.
    auto line = parse_int(e[1].text);
    if (!line || *line < 0 || static_cast<std::size_t>(*line) >= request.items.size()) {
      return Error::internal("reserve script: bad line number");
    }
    auto index = static_cast<std::size_t>(*line);
    const auto& item = request.items[index];
    if (kind == "missing") {
      auto field = item_field(index, "product_id");
      return Error::unprocessable(field + ": product " + item.product_id + " does not exist", field);
    }
    auto field = item_field(index, "quantity");
    return Error::unprocessable(field + ": product " + item.product_id + " has " + e.at(2).as_text() +
                                    " available, " + std::to_string(item.quantity) + " requested",
                                field);
  }
  if (kind == "created" && e.size() == 2) {
    appended(client_, events);
    MERCATO_ASSIGN_OR_RETURN(auto items, parse_items(e[1].text));
    return ReserveResult{
        Reservation{request.order_id, ReservationStatus::kReserved, std::move(items), now, now}, true};
  }
  return Error::internal("reserve script: unexpected answer " + kind);
}

Result<SettleResult> RedisInventoryRepository::settle(std::string_view order_id, ReservationStatus target,
                                                      SystemTime now, const EventsOf& events_of) {
  auto key = reservation_key(order_id);
  MERCATO_ASSIGN_OR_RETURN(
      auto stored, client_.command({"HMGET", key, "status", "items", "created_at_ms", "updated_at_ms"}));
  if (stored.elements.size() != 4) return Error::internal("redis: unexpected HMGET reply");
  if (stored.elements[0].is_nil()) return no_reservation(order_id);
  MERCATO_ASSIGN_OR_RETURN(auto found, reservation_of(order_id, stored.elements.data()));
  Reservation reservation = std::move(found);

  std::vector<std::string> keys{key};
  std::vector<std::string> args{std::string(to_string(target)), ms_text(now), stored.elements[1].text};
  for (const auto& line : reservation.items) {
    keys.push_back(product_key(line.product_id));
    args.push_back(std::to_string(line.quantity));
  }
  add_outbox_keys(keys, prefix_);
  // The events of the move, built before it: the script appends them only if it moves the reservation,
  // and then the reservation is exactly this (its items never change).
  Reservation moved_to = reservation;
  moved_to.status = target;
  moved_to.updated_at = now;
  std::vector<events::CloudEvent> events;
  if (events_of && reservation.status == ReservationStatus::kReserved) events = events_of(moved_to);
  MERCATO_RETURN_IF_ERROR(add_outbox_envelopes(args, events));
  auto reply = client_.eval(kSettle, keys, args);
  MERCATO_ASSIGN_OR_RETURN(auto out, outcome(reply));
  const auto& e = *out;
  const auto& kind = e[0].text;
  if (kind == "moved") {
    appended(client_, events);
    return SettleResult{std::move(moved_to), true};
  }
  if (kind == "final" && e.size() == 3) {
    // Settled meanwhile or before: the domain decides between a retry (no-op) and a conflict.
    auto status = parse_reservation_status(e[1].text);
    auto updated = time_of(e[2], "updated_at_ms");
    if (!status || !updated) return corrupt("reservation " + std::string(order_id) + " status");
    reservation.status = *status;
    reservation.updated_at = *updated;
    MERCATO_ASSIGN_OR_RETURN(auto moved, transition(reservation, target, now));
    if (moved) return Error::internal("settle: a final reservation moved");
    return SettleResult{std::move(reservation), false};
  }
  if (kind == "short" && e.size() == 3) {
    auto line = parse_int(e[1].text);
    if (!line || *line < 0 || static_cast<std::size_t>(*line) >= reservation.items.size()) {
      return Error::internal("settle script: bad line number");
    }
    const auto& item = reservation.items[static_cast<std::size_t>(*line)];
    return Error::internal("product " + item.product_id + " holds " + e[2].as_text() +
                           " reserved, less than the " + std::to_string(item.quantity) +
                           " a reservation holds");
  }
  if (kind == "missing") return Error::internal("reservation " + std::string(order_id) + " vanished");
  if (kind == "changed") return Error::internal("reservation " + std::string(order_id) + " items changed");
  return Error::internal("settle script: unexpected answer " + kind);
}

Result<Reservation> RedisInventoryRepository::find_reservation(std::string_view order_id) {
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.command({"HMGET", reservation_key(order_id), "status", "items",
                                                        "created_at_ms", "updated_at_ms"}));
  if (reply.elements.size() != 4) return Error::internal("redis: unexpected HMGET reply");
  if (reply.elements[0].is_nil()) return no_reservation(order_id);
  return reservation_of(order_id, reply.elements.data());
}

Result<void> RedisInventoryRepository::ping() { return client_.ping(); }

}  // namespace mercato::inventory
