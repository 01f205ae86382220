#include "adapters/sql_payment_repository.hpp"

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::payment {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
// `seq` orders payments created in the same millisecond (on SQLite an explicit INTEGER PRIMARY KEY,
// because VACUUM may renumber an implicit rowid). The partial unique index is the "one captured payment
// per order" rule in the schema itself.
const std::vector<sql::Migration> kMigrations = {
    {1, "create payments and idempotency keys",
     "CREATE TABLE payments ("
     " seq {seq},"
     " id TEXT NOT NULL UNIQUE,"
     " order_id TEXT NOT NULL,"
     " customer_id TEXT NOT NULL,"
     " amount_cents {int64} NOT NULL CHECK (amount_cents > 0),"
     " status TEXT NOT NULL CHECK (status IN ('captured', 'declined', 'refunded')),"
     " decline_reason TEXT,"
     " created_at_ms {int64} NOT NULL,"
     " updated_at_ms {int64} NOT NULL);"
     "CREATE INDEX payments_order ON payments(order_id, created_at_ms);"
     "CREATE UNIQUE INDEX payments_one_capture_per_order ON payments(order_id) WHERE status = 'captured';"
     "CREATE TABLE idempotency_keys ("
     " idempotency_key TEXT PRIMARY KEY,"
     " fingerprint TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),"
     " response_status INTEGER,"
     " response_body TEXT,"
     " payment_id TEXT,"
     " created_at_ms {int64} NOT NULL){without_rowid};"
     "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at_ms);"},
};

constexpr std::string_view kPaymentColumns =
    "id, order_id, customer_id, amount_cents, status, decline_reason, created_at_ms, updated_at_ms";

Error not_found(std::string_view id) { return payment_not_found(id); }

Result<Payment> read_payment(const sql::Row& row) {
  auto status = parse_status(row.text(4));
  if (!status) return Error::internal("payment " + row.text(0) + " has an unknown status " + row.text(4));
  Payment p;
  p.id = row.text(0);
  p.order_id = row.text(1);
  p.customer_id = row.text(2);
  p.amount_cents = row.integer(3);
  p.status = *status;
  p.decline_reason = row.optional_text(5);
  p.created_at = row.time(6);
  p.updated_at = row.time(7);
  return p;
}

// `lock` reads for update: the read of a read-modify-write, so a concurrent writer waits for this one.
Result<Payment> select_payment(sql::Connection& c, std::string_view id, bool lock = false) {
  static const std::string kSql = "SELECT " + std::string(kPaymentColumns) + " FROM payments WHERE id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return not_found(id);
  return read_payment(rows[0]);
}

Error order_paid(std::string_view order_id) {
  return Error::conflict("order_id: order " + std::string(order_id) + " already has a captured payment",
                         "order_id");
}

// Inserts the payment unless it would be a second capture of its order: true when inserted. The
// conflict target is the partial unique index, so a clash leaves the transaction usable (the key's
// completion still commits with it) while any other failure is still an error.
Result<bool> insert_payment(sql::Connection& c, const Payment& p) {
  MERCATO_ASSIGN_OR_RETURN(
      auto r, c.query("INSERT INTO payments(id, order_id, customer_id, amount_cents, status, decline_reason,"
                      " created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                      " ON CONFLICT (order_id) WHERE status = 'captured' DO NOTHING",
                      {p.id, p.order_id, p.customer_id, p.amount_cents, to_string(p.status), p.decline_reason,
                       p.created_at, p.updated_at}));
  return r.affected() == 1;
}

Result<bool> order_has_capture(sql::Connection& c, std::string_view order_id) {
  MERCATO_ASSIGN_OR_RETURN(
      auto rows, c.query("SELECT 1 FROM payments WHERE order_id = $1 AND status = 'captured'", {order_id}));
  return !rows.empty();
}

Result<void> mark_completed(sql::Connection& c, std::string_view key, const StoredResponse& response,
                            const std::string* payment_id) {
  MERCATO_ASSIGN_OR_RETURN(
      auto r,
      c.query("UPDATE idempotency_keys SET state = 'completed', response_status = $2, response_body = $3,"
              " payment_id = $4 WHERE idempotency_key = $1 AND state = 'in_progress'",
              {key, response.status, response.body,
               payment_id != nullptr ? sql::Param(*payment_id) : sql::Param(std::nullopt)}));
  if (r.affected() != 1)
    return Error::internal("idempotency key " + std::string(key) + " is not in progress");
  return {};
}

Result<std::optional<IdempotencyRecord>> select_key(sql::Connection& c, std::string_view key) {
  MERCATO_ASSIGN_OR_RETURN(
      auto rows,
      c.query("SELECT fingerprint, state, response_status, response_body, payment_id, created_at_ms"
              " FROM idempotency_keys WHERE idempotency_key = $1",
              {key}));
  if (rows.empty()) return std::optional<IdempotencyRecord>();
  auto row = rows[0];
  IdempotencyRecord existing;
  existing.key = std::string(key);
  existing.fingerprint = row.text(0);
  existing.state = row.text(1) == "completed" ? KeyState::kCompleted : KeyState::kInProgress;
  if (!row.is_null(2)) existing.response = StoredResponse{static_cast<int>(row.integer(2)), row.text(3)};
  existing.payment_id = row.text(4);  // "" for SQL NULL
  existing.created_at = row.time(5);
  return std::optional<IdempotencyRecord>(std::move(existing));
}

}  // namespace

SqlPaymentRepository::SqlPaymentRepository(sql::Database& db) : db_(db) {
  if (auto r = db_.migrate("payment", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<Payment> SqlPaymentRepository::record(const Payment& payment, const KeyCompletion* completion,
                                             std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<Payment> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    // Attempts for one order run one at a time, so a declined attempt cannot slip in beside a concurrent
    // capture (on SQLite begin() already serialises every writer). The lock ends with the transaction.
    MERCATO_RETURN_IF_ERROR(c.lock(payment.order_id));
    MERCATO_ASSIGN_OR_RETURN(auto paid, order_has_capture(c, payment.order_id));
    Result<Payment> outcome = payment;
    if (paid) {
      outcome = order_paid(payment.order_id);
    } else {
      // The partial unique index: unreachable after the check above under the lock, but the schema
      // guards the rule on its own too.
      MERCATO_ASSIGN_OR_RETURN(auto inserted, insert_payment(c, payment));
      if (!inserted) outcome = order_paid(payment.order_id);
    }
    if (outcome) {
      MERCATO_RETURN_IF_ERROR(events::append_outbox(c, events));
    }
    if (completion != nullptr) {
      auto response = completion->render(outcome);
      if (auto r = mark_completed(c, completion->key, response, outcome ? &payment.id : nullptr); !r) {
        return std::move(r).error();  // the lease rolls back: no payment without its key's completion
      }
    }
    MERCATO_RETURN_IF_ERROR(c.commit());
    return outcome;
  });
}

Result<Payment> SqlPaymentRepository::find(std::string_view id) {
  return db_.with([&](sql::Connection& c) { return select_payment(c, id); });
}

Result<std::vector<Payment>> SqlPaymentRepository::list_by_order(std::string_view order_id) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<Payment>> {
    static const std::string kSql =
        "SELECT " + std::string(kPaymentColumns) +
        " FROM payments WHERE order_id = $1 ORDER BY created_at_ms DESC, seq DESC";
    return sql::read_all(c.query(kSql, {order_id}), read_payment);
  });
}

Result<Payment> SqlPaymentRepository::refund(std::string_view id, SystemTime now, const EventsOf& events_of) {
  return db_.with([&](sql::Connection& c) -> Result<Payment> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    auto p = select_payment(c, id, true);
    if (!p) return p;  // the lease rolls the transaction back
    MERCATO_ASSIGN_OR_RETURN(auto changed, payment::refund(*p, now));
    if (!changed) return p;
    MERCATO_RETURN_IF_ERROR(c.query("UPDATE payments SET status = $2, updated_at_ms = $3 WHERE id = $1",
                                    {p->id, to_string(p->status), p->updated_at}));
    MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, *p));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return p;
  });
}

Result<std::optional<IdempotencyRecord>> SqlPaymentRepository::claim_key(const IdempotencyRecord& fresh) {
  return db_.with([&](sql::Connection& c) -> Result<std::optional<IdempotencyRecord>> {
    // A statement outside a transaction commits on its own: once inserted, every other request with
    // this key sees it. Concurrent inserts of one key conflict on the primary key; ON CONFLICT makes the
    // losers wait for the winner's commit and then insert nothing, so they read the winner's record.
    // A loser can find no record when the winner released the key in between: it then claims again.
    for (int attempt = 0; attempt < 8; ++attempt) {
      MERCATO_ASSIGN_OR_RETURN(
          auto inserted,
          c.query("INSERT INTO idempotency_keys(idempotency_key, fingerprint, state, created_at_ms)"
                  " VALUES ($1, $2, 'in_progress', $3) ON CONFLICT (idempotency_key) DO NOTHING",
                  {fresh.key, fresh.fingerprint, fresh.created_at}));
      if (inserted.affected() == 1) return std::optional<IdempotencyRecord>();
      auto existing = select_key(c, fresh.key);
      if (!existing || *existing) return existing;
    }
    return Error::unavailable("idempotency key " + fresh.key + " keeps being claimed and released");
  });
}

Result<void> SqlPaymentRepository::complete_key(std::string_view key, const StoredResponse& response) {
  return db_.with([&](sql::Connection& c) { return mark_completed(c, key, response, nullptr); });
}

Result<void> SqlPaymentRepository::release_key(std::string_view key) {
  return db_.with([&](sql::Connection& c) {
    return c.run("DELETE FROM idempotency_keys WHERE idempotency_key = $1 AND state = 'in_progress'", {key});
  });
}

Result<std::int64_t> SqlPaymentRepository::recover_keys(SystemTime created_before) {
  return db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
    MERCATO_ASSIGN_OR_RETURN(
        auto r, c.query("DELETE FROM idempotency_keys WHERE created_at_ms < $1 OR state = 'in_progress'",
                        {created_before}));
    return r.affected();
  });
}

Result<void> SqlPaymentRepository::ping() { return db_.ping(); }

}  // namespace mercato::payment
