#include "adapters/redis_event_store.hpp"

#include <unistd.h>

#include <charconv>

#include "mercato/core/ids.hpp"

namespace mercato::inventory {
namespace {

// KEYS unsent, events, attempts. ARGV[1] limit (> 0). → {seq, envelope, attempts, ...} oldest first.
const redis::Script kUnsent(R"lua(
local seqs = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, seq in ipairs(seqs) do
  out[#out + 1] = seq
  out[#out + 1] = redis.call('HGET', KEYS[2], seq) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], seq) or '0'
end
return out
)lua");

// KEYS unsent, sent, attempts. ARGV[1] now_ms, ARGV[2..] seqs. Moves each still-unsent seq to sent.
const redis::Script kMarkSent(R"lua(
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
    redis.call('HINCRBY', KEYS[3], ARGV[i], 1)
  end
end
return 0
)lua");

// KEYS unsent, attempts, errors. ARGV seq, error. Only an unsent seq counts a failure.
const redis::Script kMarkFailed(R"lua(
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
end
return 0
)lua");

// KEYS sent, events, attempts, errors. ARGV[1] before_ms (exclusive), ARGV[2] batch size.
// → how many sent entries were deleted (at most the batch size: the caller repeats while it is full).
const redis::Script kPurge(R"lua(
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, seq in ipairs(seqs) do
  redis.call('HDEL', KEYS[2], seq)
  redis.call('HDEL', KEYS[3], seq)
  redis.call('HDEL', KEYS[4], seq)
  redis.call('ZREM', KEYS[1], seq)
end
return #seqs
)lua");

// KEYS letter hash, index. ARGV id, consumer, envelope, error, attempts, failed_at_ms.
const redis::Script kAddDeadLetter(R"lua(
redis.call('HSET', KEYS[1], 'consumer', ARGV[2], 'envelope', ARGV[3], 'error', ARGV[4], 'attempts', ARGV[5],
           'failed_at_ms', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
return 0
)lua");

// KEYS letter hash, index. ARGV id, error, failed_at_ms. A missing letter is left alone (as SQL's UPDATE).
const redis::Script kUpdateDeadLetter(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'error', ARGV[2], 'failed_at_ms', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
)lua");

// KEYS letter hash, index. ARGV id.
const redis::Script kRemoveDeadLetter(R"lua(
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
)lua");

// KEYS inbox key, then the 3 outbox keys. ARGV[1] retention_ms, then the events. → 1 the first time
// (the events appended), 0 when the key was there (nothing written).
const redis::Script kHandleOnce(std::string(kRedisAppendOutboxLua) + R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
append_outbox(KEYS[2], KEYS[3], KEYS[4], 2)
return 1
)lua");

// KEYS lease. ARGV token, lease_ms. → 1 when this token holds the lease (taken or renewed), else 0.
const redis::Script kTryLead(R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua");

constexpr std::size_t kPurgeBatch = 1000;

std::int64_t now_ms() { return to_unix_ms(now_utc()); }

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

Error corrupt(std::string_view what) {
  return Error::internal("redis event store data is corrupt: " + std::string(what));
}

// consumer, envelope, error, attempts, failed_at_ms as HMGET returns them (nil: the letter is gone).
Result<std::optional<events::DeadLetter>> read_dead_letter(std::string_view id, const redis::Reply& reply) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.size() != 5)
    return Error::internal("redis: unexpected HMGET reply");
  const auto& f = reply.elements;
  if (f[0].is_nil()) return std::optional<events::DeadLetter>();
  auto event = events::from_json(f[1].as_text());
  if (!event) return corrupt("dead letter " + std::string(id) + " holds a malformed event");
  auto attempts = parse_int(f[3].as_text());
  auto failed_at = parse_int(f[4].as_text());
  if (!attempts || !failed_at) return corrupt("dead letter " + std::string(id) + " counters");
  return std::optional<events::DeadLetter>(
      events::DeadLetter{std::string(id), f[0].as_text(), std::move(*event), f[2].as_text(),
                         static_cast<int>(*attempts), from_unix_ms(*failed_at)});
}

}  // namespace

std::vector<std::string> redis_outbox_keys(std::string_view prefix) {
  std::string p(prefix);
  return {p + "outbox:seq", p + "outbox:unsent", p + "outbox:events"};
}

Result<void> add_outbox_envelopes(std::vector<std::string>& args,
                                  std::span<const events::CloudEvent> events) {
  for (const auto& e : events) {
    if (auto valid = events::validate(e); !valid) return valid;
    args.push_back(events::to_json(e));
  }
  return {};
}

RedisEventStore::RedisEventStore(redis::Client& client, std::string key_prefix,
                                 RedisEventStoreSettings settings)
    : client_(client),
      prefix_(std::move(key_prefix)),
      settings_(settings),
      token_(std::to_string(::getpid()) + "-" + random_hex(8)) {}

std::string RedisEventStore::dead_letter_key(std::string_view id) const {
  return prefix_ + "dead_letter:" + std::string(id);
}

Result<std::vector<events::OutboxRecord>> RedisEventStore::unsent(std::size_t limit) {
  std::vector<events::OutboxRecord> out;
  if (limit == 0) return out;  // ZRANGE 0 -1 would mean "all"
  MERCATO_ASSIGN_OR_RETURN(
      auto reply, client_.eval(kUnsent, {key("outbox:unsent"), key("outbox:events"), key("outbox:attempts")},
                               {std::to_string(limit)}));
  const auto& e = reply.elements;
  if (reply.type != redis::Reply::Type::kArray || e.size() % 3 != 0)
    return Error::internal("redis: unexpected outbox reply");
  for (std::size_t i = 0; i < e.size(); i += 3) {
    auto seq = parse_int(e[i].as_text());
    auto attempts = parse_int(e[i + 2].as_text());
    if (!seq || !attempts) return corrupt("outbox seq or attempts is not an integer");
    auto event = events::from_json(e[i + 1].as_text());
    if (!event) {
      return Error::internal("outbox entry " + std::to_string(*seq) +
                             " holds a malformed event: " + event.error().message);
    }
    out.push_back({*seq, std::move(*event), static_cast<int>(*attempts)});
  }
  return out;
}

Result<void> RedisEventStore::mark_sent(std::span<const std::int64_t> seqs) {
  if (seqs.empty()) return {};
  std::vector<std::string> args{std::to_string(now_ms())};
  for (auto seq : seqs) args.push_back(std::to_string(seq));
  MERCATO_RETURN_IF_ERROR(
      client_.eval(kMarkSent, {key("outbox:unsent"), key("outbox:sent"), key("outbox:attempts")}, args));
  return {};
}

Result<void> RedisEventStore::mark_failed(std::int64_t seq, std::string_view error) {
  MERCATO_RETURN_IF_ERROR(client_.eval(kMarkFailed,
                                       {key("outbox:unsent"), key("outbox:attempts"), key("outbox:errors")},
                                       {std::to_string(seq), std::string(error)}));
  return {};
}

Result<std::size_t> RedisEventStore::purge(SystemTime before) {
  std::size_t total = 0;
  for (;;) {
    MERCATO_ASSIGN_OR_RETURN(
        auto reply,
        client_.eval(kPurge,
                     {key("outbox:sent"), key("outbox:events"), key("outbox:attempts"), key("outbox:errors")},
                     {std::to_string(to_unix_ms(before)), std::to_string(kPurgeBatch)}));
    auto n = static_cast<std::size_t>(reply.integer);
    total += n;
    if (n < kPurgeBatch) return total;
  }
}

Result<std::int64_t> RedisEventStore::unsent_count() {
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.command({"ZCARD", key("outbox:unsent")}));
  return reply.integer;
}

Result<std::int64_t> RedisEventStore::dead_letter_count() {
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.command({"ZCARD", key("dead_letters")}));
  return reply.integer;
}

Result<bool> RedisEventStore::handle_once(std::string_view consumer, std::string_view event_id,
                                          std::span<const events::CloudEvent> outgoing) {
  std::vector<std::string> keys{key("inbox:" + std::string(consumer) + ":" + std::string(event_id))};
  for (auto& k : redis_outbox_keys(prefix_)) keys.push_back(std::move(k));
  std::vector<std::string> args{std::to_string(settings_.retention.count())};
  MERCATO_RETURN_IF_ERROR(add_outbox_envelopes(args, outgoing));
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.eval(kHandleOnce, keys, args));
  if (reply.type != redis::Reply::Type::kInteger) return Error::internal("redis: unexpected inbox reply");
  bool first = reply.integer == 1;
  // The script is the commit: wake this process's relay, as append_outbox does after a SQL commit.
  if (first && !outgoing.empty()) events::outbox_signal::raise(signal_key());
  return first;
}

Result<void> RedisEventStore::add_dead_letter(std::string_view consumer, const events::CloudEvent& event,
                                              std::string_view error, int attempts) {
  auto id = new_uuid();
  MERCATO_RETURN_IF_ERROR(client_.eval(kAddDeadLetter, {dead_letter_key(id), key("dead_letters")},
                                       {id, std::string(consumer), events::to_json(event), std::string(error),
                                        std::to_string(attempts), std::to_string(now_ms())}));
  return {};
}

Result<std::vector<events::DeadLetter>> RedisEventStore::dead_letters(std::size_t limit) {
  std::vector<events::DeadLetter> out;
  if (limit == 0) return out;
  // Oldest failure first, ties by id: the order the SQL stores list them in.
  MERCATO_ASSIGN_OR_RETURN(auto ids,
                           client_.command({"ZRANGE", key("dead_letters"), "0", std::to_string(limit - 1)}));
  for (const auto& id : ids.elements) {
    MERCATO_ASSIGN_OR_RETURN(auto letter, dead_letter(id.as_text()));
    if (letter) out.push_back(std::move(*letter));  // removed since the ZRANGE: skip it
  }
  return out;
}

Result<std::optional<events::DeadLetter>> RedisEventStore::dead_letter(std::string_view id) {
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.command({"HMGET", dead_letter_key(id), "consumer", "envelope",
                                                        "error", "attempts", "failed_at_ms"}));
  return read_dead_letter(id, reply);
}

Result<void> RedisEventStore::remove_dead_letter(std::string_view id) {
  MERCATO_RETURN_IF_ERROR(
      client_.eval(kRemoveDeadLetter, {dead_letter_key(id), key("dead_letters")}, {std::string(id)}));
  return {};
}

Result<void> RedisEventStore::update_dead_letter(std::string_view id, std::string_view error) {
  MERCATO_RETURN_IF_ERROR(client_.eval(kUpdateDeadLetter, {dead_letter_key(id), key("dead_letters")},
                                       {std::string(id), std::string(error), std::to_string(now_ms())}));
  return {};
}

Result<bool> RedisEventStore::try_lead() {
  MERCATO_ASSIGN_OR_RETURN(auto reply, client_.eval(kTryLead, {key("outbox:relay")},
                                                    {token_, std::to_string(settings_.lease.count())}));
  return reply.integer == 1;
}

}  // namespace mercato::inventory
