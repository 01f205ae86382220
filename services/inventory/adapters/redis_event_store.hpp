// The event tables of lib/events (outbox, inbox, dead letters, relay lock) on Redis, for the inventory
// service when its data lives there. Redis has no transaction spanning a Redis script and a SQL database,
// so the outbox must live beside the data: the repository's Lua scripts append their events to it in the
// same atomic script that changes stock (redis_inventory_repository.hpp), and this EventStore is what the
// relay and the dead-letter admin read it through.
//
//   auto& store = ctx.own(std::make_unique<inventory::RedisEventStore>(client, prefix, settings));
//   auto& bus = events::attach(ctx, store);
//
// Keys (all under the repository's prefix, fixed names so scripts can declare them in KEYS and they stay
// in the prefix's Redis Cluster slot):
//
//   <prefix>outbox:seq               string  INCR counter: an appended event's seq (commit order)
//   <prefix>outbox:unsent            zset    seq → score seq: the events not yet published, in order
//   <prefix>outbox:events            hash    seq → CloudEvents JSON envelope
//   <prefix>outbox:attempts          hash    seq → publish attempts
//   <prefix>outbox:errors            hash    seq → last publish error
//   <prefix>outbox:sent              zset    seq → score sent_at_ms: published, kept until the purge
//   <prefix>inbox:<consumer>:<id>    string  an event handled by a consumer; expires after `retention`
//   <prefix>dead_letters             zset    dead-letter id → score failed_at_ms
//   <prefix>dead_letter:<id>         hash    consumer, envelope, error, attempts, failed_at_ms
//   <prefix>outbox:relay             string  the relay lease: the leader's token, expiring after `lease`
//
// handle_once is one script too: the inbox key is set (NX, expiring after `retention`) and, only when it
// was not there, `outgoing` is appended with append_outbox, exactly as the repository's scripts append a
// change's events — so a saga participant's answer and its inbox record are one atomic unit.
//
// Only one relay publishes (several instances share the server): the one holding the lease, renewed on
// every relay round. A leader that dies hands over once its lease expires. The inbox needs no purge: its
// keys expire on their own; purge() deletes sent outbox entries older than the cut-off.
//
// Thread-safety: thread-safe (each call borrows a pooled connection from the redis::Client).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/events/store.hpp"
#include "mercato/redis/redis.hpp"

namespace mercato::inventory {

// The keys a script appending to the outbox declares, in this order, under `prefix`: seq, unsent,
// events.
std::vector<std::string> redis_outbox_keys(std::string_view prefix);

// Lua source defining `append_outbox(seq_key, unsent_key, events_key, first)`: appends ARGV[first] ..
// ARGV[#ARGV] (envelopes, already validated) to the outbox. A script that appends starts with this, and
// calls it only after every check has passed: Redis does not undo a script's writes when it fails later.
inline constexpr std::string_view kRedisAppendOutboxLua = R"lua(
local function append_outbox(seq_key, unsent_key, events_key, first)
  for i = first, #ARGV do
    local seq = redis.call('INCR', seq_key)
    redis.call('HSET', events_key, seq, ARGV[i])
    redis.call('ZADD', unsent_key, seq, seq)
  end
end
)lua";

// Validates `events` (as append_outbox does on SQL: one malformed event refuses the whole call, before
// anything is written) and adds their JSON envelopes to a script's arguments, for append_outbox.
Result<void> add_outbox_envelopes(std::vector<std::string>& args, std::span<const events::CloudEvent> events);

struct RedisEventStoreSettings {
  // How long an inbox record is kept (the bus's events.retention): a redelivery older than this is
  // handled again, as on SQL, where the purge deletes inbox rows after the same time.
  std::chrono::milliseconds retention{std::chrono::hours(24)};
  // How long the relay lease lasts unless renewed. Longer than a relay round (one publish, bounded by
  // events.publish_timeout), so a live leader never loses it mid-publish; a dead one's expires in this.
  std::chrono::milliseconds lease{std::chrono::seconds(30)};
};

class RedisEventStore final : public events::EventStore {
 public:
  RedisEventStore(redis::Client& client, std::string key_prefix, RedisEventStoreSettings settings = {});

  Result<std::vector<events::OutboxRecord>> unsent(std::size_t limit) override;
  Result<void> mark_sent(std::span<const std::int64_t> seqs) override;
  Result<void> mark_failed(std::int64_t seq, std::string_view error) override;
  Result<std::size_t> purge(SystemTime before) override;
  Result<std::int64_t> unsent_count() override;
  // The client it shares with the repository: both raise the outbox signal with it.
  const void* signal_key() const noexcept override { return &client_; }
  Result<std::int64_t> dead_letter_count() override;
  Result<bool> handle_once(std::string_view consumer, std::string_view event_id,
                           std::span<const events::CloudEvent> outgoing = {}) override;
  Result<void> add_dead_letter(std::string_view consumer, const events::CloudEvent& event,
                               std::string_view error, int attempts) override;
  Result<std::vector<events::DeadLetter>> dead_letters(std::size_t limit) override;
  Result<std::optional<events::DeadLetter>> dead_letter(std::string_view id) override;
  Result<void> remove_dead_letter(std::string_view id) override;
  Result<void> update_dead_letter(std::string_view id, std::string_view error) override;
  Result<bool> try_lead() override;

 private:
  std::string key(std::string_view name) const { return prefix_ + std::string(name); }
  std::string dead_letter_key(std::string_view id) const;

  redis::Client& client_;
  std::string prefix_;
  RedisEventStoreSettings settings_;
  std::string token_;  // this store's identity in the relay lease
};

}  // namespace mercato::inventory
