// InventoryRepository on Redis. Every change is ONE Lua script, which Redis runs atomically (no other
// command interleaves), so a reservation over many lines is all-or-nothing and concurrent reservations of
// the last units cannot both see them, however many service instances share the server.
//
// Data model (every key starts with the configured prefix, default "mercato:inventory:"; product and
// order ids cannot contain ':', so the two kinds of key never collide):
//
//   <prefix>product:<product_id>      hash  name, price_cents, available, reserved, sold,
//                                           created_at_ms, updated_at_ms   (integers in decimal)
//   <prefix>reservation:<order_id>    hash  status ("reserved" | "committed" | "released"),
//                                           items  JSON [[product_id, quantity, price_cents], ...] as
//                                                  strings, in request order; never changed once written
//                                           created_at_ms, updated_at_ms
//
// Scripts (all keys they touch are passed in KEYS, so they stay valid on a Redis Cluster when the prefix
// holds a hash tag such as "{inventory}:"):
//   put      create the product hash, or replace name/price/available keeping reserved, sold, created.
//   reserve  an existing reservation is returned untouched (the caller then replays it or answers 409,
//            by the domain's same_items rule); otherwise every line's product and availability is checked
//            FIRST and the script returns the first failing line having changed nothing; only then are
//            the quantities moved available → reserved and the reservation hash written.
//   settle   status checked (missing / already final are reported, nothing written); every product's
//            reserved checked; then reserved → sold (commit) or → available (release) for every line and
//            the status set. The product keys come from the reservation's items, read just before: items
//            never change, and the script checks they are still what was read.
//
// The transactional outbox: each script also takes the outbox keys and the events of its change (JSON
// envelopes, built and validated before the call) and appends them to the outbox in the same script, on
// the path that changes something — put always, reserve when it creates the reservation, settle when it
// moves it. RedisEventStore (redis_event_store.hpp) reads that outbox for the relay.
//
// Nothing expires: stock and reservations are records, kept as long as the server keeps its data (run
// Redis with AOF persistence in production; the tests run it without).
//
// Thread-safety: thread-safe (each call borrows a pooled connection from the redis::Client).
#pragma once

#include <string>

#include "app/inventory_repository.hpp"
#include "mercato/redis/redis.hpp"

namespace mercato::inventory {

inline constexpr std::string_view kDefaultRedisKeyPrefix = "mercato:inventory:";

class RedisInventoryRepository final : public InventoryRepository {
 public:
  RedisInventoryRepository(redis::Client& client,
                           std::string key_prefix = std::string(kDefaultRedisKeyPrefix));

  Result<PutProductResult> put_product(const std::string& product_id, const ProductInput& input,
                                       SystemTime now, std::span<const events::CloudEvent> events) override;
  Result<Product> find_product(std::string_view product_id) override;
  Result<ReserveResult> reserve(const ReservationRequest& request, SystemTime now,
                                std::span<const events::CloudEvent> events) override;
  Result<SettleResult> settle(std::string_view order_id, ReservationStatus target, SystemTime now,
                              const EventsOf& events_of) override;
  Result<Reservation> find_reservation(std::string_view order_id) override;
  Result<void> ping() override;

 private:
  std::string product_key(std::string_view product_id) const;
  std::string reservation_key(std::string_view order_id) const;

  redis::Client& client_;
  std::string prefix_;
};

}  // namespace mercato::inventory
