#include "adapters/sqlite_payment_repository.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::payment {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
// `seq` orders payments created in the same millisecond (an explicit INTEGER PRIMARY KEY, because VACUUM
// may renumber an implicit rowid). The partial unique index is the "one captured payment per order"
// rule in the schema itself.
const std::vector<sqlite::Migration> kMigrations = {
    {1, "create payments and idempotency keys",
     "CREATE TABLE payments ("
     " seq INTEGER PRIMARY KEY,"
     " id TEXT NOT NULL UNIQUE,"
     " order_id TEXT NOT NULL,"
     " customer_id TEXT NOT NULL,"
     " amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),"
     " status TEXT NOT NULL CHECK (status IN ('captured', 'declined', 'refunded')),"
     " decline_reason TEXT,"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL);"
     "CREATE INDEX payments_order ON payments(order_id, created_at_ms);"
     "CREATE UNIQUE INDEX payments_one_capture_per_order ON payments(order_id) WHERE status = 'captured';"
     "CREATE TABLE idempotency_keys ("
     " idempotency_key TEXT PRIMARY KEY,"
     " fingerprint TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),"
     " response_status INTEGER,"
     " response_body TEXT,"
     " payment_id TEXT,"
     " created_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at_ms);"},
};

constexpr std::string_view kPaymentColumns =
    "id, order_id, customer_id, amount_cents, status, decline_reason, created_at_ms, updated_at_ms";

Error not_found(std::string_view id) { return Error::not_found("payment " + std::string(id) + " not found"); }

Result<Payment> read_payment(const sqlite::Statement& st) {
  auto status = parse_status(st.text(4));
  if (!status) return Error::internal("payment " + st.text(0) + " has an unknown status " + st.text(4));
  Payment p;
  p.id = st.text(0);
  p.order_id = st.text(1);
  p.customer_id = st.text(2);
  p.amount_cents = st.integer(3);
  p.status = *status;
  if (!st.is_null(5)) p.decline_reason = st.text(5);
  p.created_at = from_unix_ms(st.integer(6));
  p.updated_at = from_unix_ms(st.integer(7));
  return p;
}

Result<Payment> select_payment(sqlite::Connection& c, std::string_view id) {
  static const std::string sql = "SELECT " + std::string(kPaymentColumns) + " FROM payments WHERE id = ?1";
  auto st = c.prepare(sql);
  st.bind(1, id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return not_found(id);
  return read_payment(st);
}

Result<void> insert_payment(sqlite::Connection& c, const Payment& p) {
  auto st = c.prepare(
      "INSERT INTO payments(id, order_id, customer_id, amount_cents, status, decline_reason, created_at_ms,"
      " updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  st.bind(1, p.id);
  st.bind(2, p.order_id);
  st.bind(3, p.customer_id);
  st.bind(4, p.amount_cents);
  st.bind(5, to_string(p.status));
  if (p.decline_reason) {
    st.bind(6, *p.decline_reason);
  } else {
    st.bind_null(6);
  }
  st.bind(7, to_unix_ms(p.created_at));
  st.bind(8, to_unix_ms(p.updated_at));
  return st.run();
}

Error order_paid(std::string_view order_id) {
  return Error::conflict("order_id: order " + std::string(order_id) + " already has a captured payment",
                         "order_id");
}

Result<bool> order_has_capture(sqlite::Connection& c, std::string_view order_id) {
  auto st = c.prepare("SELECT 1 FROM payments WHERE order_id = ?1 AND status = 'captured'");
  st.bind(1, order_id);
  return st.step();
}

Result<void> mark_completed(sqlite::Connection& c, std::string_view key, const StoredResponse& response,
                            const std::string* payment_id) {
  auto st = c.prepare(
      "UPDATE idempotency_keys SET state = 'completed', response_status = ?2, response_body = ?3,"
      " payment_id = ?4 WHERE idempotency_key = ?1 AND state = 'in_progress'");
  st.bind(1, key);
  st.bind(2, static_cast<std::int64_t>(response.status));
  st.bind(3, response.body);
  if (payment_id != nullptr) {
    st.bind(4, *payment_id);
  } else {
    st.bind_null(4);
  }
  if (auto r = st.run(); !r) return r;
  if (c.changes() != 1) return Error::internal("idempotency key " + std::string(key) + " is not in progress");
  return {};
}

}  // namespace

SqlitePaymentRepository::SqlitePaymentRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<Payment> SqlitePaymentRepository::record(const Payment& payment, const KeyCompletion* completion,
                                                std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<Payment> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto paid = order_has_capture(c, payment.order_id);
    if (!paid) return std::move(paid).error();
    Result<Payment> outcome = payment;
    if (*paid) {
      outcome = order_paid(payment.order_id);
    } else if (auto r = insert_payment(c, payment); !r) {
      // The partial unique index: unreachable after the check above under BEGIN IMMEDIATE, but the
      // schema guards the rule on its own too.
      if (c.last_error_code() != SQLITE_CONSTRAINT_UNIQUE) return std::move(r).error();
      outcome = order_paid(payment.order_id);
    }
    if (outcome) {
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (completion != nullptr) {
      auto response = completion->render(outcome);
      if (auto r = mark_completed(c, completion->key, response, outcome ? &payment.id : nullptr); !r) {
        return std::move(r).error();  // the lease rolls back: no payment without its key's completion
      }
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return outcome;
  });
}

Result<Payment> SqlitePaymentRepository::find(std::string_view id) {
  return db_.with([&](sqlite::Connection& c) { return select_payment(c, id); });
}

Result<std::vector<Payment>> SqlitePaymentRepository::list_by_order(std::string_view order_id) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::vector<Payment>> {
    static const std::string sql = "SELECT " + std::string(kPaymentColumns) +
                                   " FROM payments WHERE order_id = ?1 ORDER BY created_at_ms DESC, seq DESC";
    auto st = c.prepare(sql);
    st.bind(1, order_id);
    std::vector<Payment> out;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      auto p = read_payment(st);
      if (!p) return std::move(p).error();
      out.push_back(std::move(*p));
    }
    return out;
  });
}

Result<Payment> SqlitePaymentRepository::refund(std::string_view id, SystemTime now,
                                                const EventsOf& events_of) {
  return db_.with([&](sqlite::Connection& c) -> Result<Payment> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto p = select_payment(c, id);
    if (!p) return p;
    auto changed = payment::refund(*p, now);
    if (!changed) return std::move(changed).error();
    if (!*changed) return p;
    auto st = c.prepare("UPDATE payments SET status = ?2, updated_at_ms = ?3 WHERE id = ?1");
    st.bind(1, p->id);
    st.bind(2, to_string(p->status));
    st.bind(3, to_unix_ms(p->updated_at));
    if (auto r = st.run(); !r) return std::move(r).error();
    if (events_of) {
      auto events = events_of(*p);
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return p;
  });
}

Result<std::optional<IdempotencyRecord>> SqlitePaymentRepository::claim_key(const IdempotencyRecord& fresh) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::optional<IdempotencyRecord>> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    {
      auto st = c.prepare(
          "SELECT fingerprint, state, response_status, response_body, payment_id, created_at_ms"
          " FROM idempotency_keys WHERE idempotency_key = ?1");
      st.bind(1, fresh.key);
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (*row) {
        IdempotencyRecord existing;
        existing.key = fresh.key;
        existing.fingerprint = st.text(0);
        existing.state = st.text(1) == "completed" ? KeyState::kCompleted : KeyState::kInProgress;
        if (!st.is_null(2)) {
          existing.response = StoredResponse{static_cast<int>(st.integer(2)), st.text(3)};
        }
        existing.payment_id = st.text(4);
        existing.created_at = from_unix_ms(st.integer(5));
        return std::optional<IdempotencyRecord>(std::move(existing));  // the lease ends the transaction
      }
    }
    auto st = c.prepare(
        "INSERT INTO idempotency_keys(idempotency_key, fingerprint, state, created_at_ms)"
        " VALUES (?1, ?2, 'in_progress', ?3)");
    st.bind(1, fresh.key);
    st.bind(2, fresh.fingerprint);
    st.bind(3, to_unix_ms(fresh.created_at));
    if (auto r = st.run(); !r) return std::move(r).error();
    // Committed before processing starts: from here on, every other request with this key sees it.
    if (auto r = c.commit(); !r) return std::move(r).error();
    return std::optional<IdempotencyRecord>();
  });
}

Result<void> SqlitePaymentRepository::complete_key(std::string_view key, const StoredResponse& response) {
  return db_.with([&](sqlite::Connection& c) { return mark_completed(c, key, response, nullptr); });
}

Result<void> SqlitePaymentRepository::release_key(std::string_view key) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM idempotency_keys WHERE idempotency_key = ?1 AND state = 'in_progress'");
    st.bind(1, key);
    return st.run();
  });
}

Result<std::int64_t> SqlitePaymentRepository::recover_keys(SystemTime created_before) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::int64_t> {
    auto st = c.prepare("DELETE FROM idempotency_keys WHERE created_at_ms < ?1 OR state = 'in_progress'");
    st.bind(1, to_unix_ms(created_before));
    if (auto r = st.run(); !r) return std::move(r).error();
    return c.changes();
  });
}

Result<void> SqlitePaymentRepository::ping() { return db_.ping(); }

}  // namespace mercato::payment
