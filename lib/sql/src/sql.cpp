// What is the same on every engine: rendering SQL for a dialect, parameters, rows, migrations.
#include "mercato/sql/sql.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace mercato::sql {
namespace {

// `$N` as the dialect writes a numbered placeholder: SQLite reads `$1` as a *named* parameter (numbered by
// first appearance, not by its digits), so it gets `?N`, which SQLite numbers as written.
std::string placeholder(Dialect dialect, std::string_view text) {
  if (dialect == Dialect::kSqlite && text.size() > 1 && text[0] == '$')
    return "?" + std::string(text.substr(1));
  return std::string(text);
}

std::string expand(Dialect dialect, std::string_view token) {
  bool lite = dialect == Dialect::kSqlite;
  auto colon = token.find(':');
  std::string_view name = token.substr(0, colon);
  std::string_view arg = colon == std::string_view::npos ? std::string_view() : token.substr(colon + 1);
  if (name == "int64" && arg.empty()) return lite ? "INTEGER" : "BIGINT";
  // SQLite: exactly INTEGER PRIMARY KEY makes the column the rowid (BIGINT PRIMARY KEY would not).
  if (name == "seq" && arg.empty())
    return lite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  if (name == "serial" && arg.empty())
    return lite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  if (name == "json" && arg.empty()) return lite ? "TEXT" : "JSONB";
  if (name == "blob" && arg.empty()) return lite ? "BLOB" : "BYTEA";
  if (name == "without_rowid" && arg.empty()) return lite ? " WITHOUT ROWID" : "";
  if (name == "for_update")
    return lite ? "" : arg.empty() ? " FOR UPDATE" : " FOR UPDATE OF " + std::string(arg);
  if (name == "now_ms" && arg.empty()) {
    // 'now' is one instant for a whole statement on SQLite; now() is the transaction's on PostgreSQL.
    return lite ? "(CAST(strftime('%s', 'now') AS INTEGER) * 1000 + CAST(substr(strftime('%f', 'now'), 4) AS "
                  "INTEGER))"
                : "CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT)";
  }
  if (name == "nocase" && !arg.empty()) {
    // ASCII case folding on both (PostgreSQL's lower() in the C locale): docs/adr/0005.
    auto operand = placeholder(dialect, arg);
    return lite ? operand + " COLLATE NOCASE" : "lower(" + operand + ")";
  }
  if (name == "int64_set" && !arg.empty()) {
    auto p = placeholder(dialect, arg);
    return lite ? "(SELECT value FROM json_each(" + p + "))" : "(SELECT unnest(" + p + "::bigint[]))";
  }
  throw std::logic_error("unknown SQL token {" + std::string(token) + "}");
}

}  // namespace

std::string render(Dialect dialect, std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  std::size_t i = 0;
  while (i < sql.size()) {
    char ch = sql[i];
    if (ch == '\'' || ch == '"') {  // a literal or quoted name, copied as it is ('' inside is two quotes)
      auto close = sql.find(ch, i + 1);
      if (close == std::string_view::npos) close = sql.size() - 1;
      out.append(sql.substr(i, close - i + 1));
      i = close + 1;
    } else if (ch == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      auto end = i + 1;
      while (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end]))) ++end;
      out += placeholder(dialect, sql.substr(i, end - i));
      i = end;
    } else if (ch == '{') {
      auto close = sql.find('}', i);
      if (close == std::string_view::npos)
        throw std::logic_error("unclosed SQL token in: " + std::string(sql));
      out += expand(dialect, sql.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      out += ch;
      ++i;
    }
  }
  return out;
}

std::string upsert(std::string_view conflict_columns, std::span<const std::string_view> columns) {
  std::string out = "ON CONFLICT (" + std::string(conflict_columns) + ") DO ";
  if (columns.empty()) return out + "NOTHING";
  out += "UPDATE SET ";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::string(columns[i]) + " = excluded." + std::string(columns[i]);
  }
  return out;
}

Param Param::int64_list(std::span<const std::int64_t> values) {
  Param p(std::nullopt);
  p.kind_ = Kind::kIntegerList;
  p.list_.assign(values.begin(), values.end());
  return p;
}

const Rows::Cell& Rows::cell(std::size_t row, int column) const {
  if (column < 0 || column >= columns_ || row >= size()) {
    throw std::out_of_range("no column " + std::to_string(column) + " in row " + std::to_string(row));
  }
  return cells_[row * static_cast<std::size_t>(columns_) + static_cast<std::size_t>(column)];
}

bool Row::is_null(int column) const { return rows_->cell(index_, column).null; }

std::string Row::text(int column) const {
  const auto& c = rows_->cell(index_, column);
  if (c.is_integer) return std::to_string(c.integer);
  return c.text;
}

std::int64_t Row::integer(int column) const {
  const auto& c = rows_->cell(index_, column);
  if (c.null) return 0;
  if (c.is_integer) return c.integer;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(c.text.data(), c.text.data() + c.text.size(), n);
  if (ec != std::errc() || end != c.text.data() + c.text.size()) {
    throw std::logic_error("column " + std::to_string(column) + " is not an integer: " + c.text);
  }
  return n;
}

bool Row::boolean(int column) const {
  const auto& c = rows_->cell(index_, column);
  if (c.null) return false;
  if (c.is_integer) return c.integer != 0;
  return c.text == "t" || c.text == "true" || c.text == "1";  // PostgreSQL's boolean, or an integer as text
}

SystemTime Row::time(int column) const { return from_unix_ms(integer(column)); }

std::optional<std::string> Row::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

std::optional<std::int64_t> Row::optional_integer(int column) const {
  if (is_null(column)) return std::nullopt;
  return integer(column);
}

std::optional<SystemTime> Row::optional_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return time(column);
}

Result<Rows> Connection::select(std::string_view sql, const Params& params, bool for_update) {
  if (!for_update) return query(sql, params);
  return query(std::string(sql) + "{for_update}", params);
}

Result<void> Connection::run(std::string_view sql, const Params& params) {
  MERCATO_RETURN_IF_ERROR(query(sql, params));
  return {};
}

std::string Migration::text(Dialect dialect) const {
  if (dialect == Dialect::kSqlite && !sqlite.empty()) return render(dialect, sqlite);
  if (dialect == Dialect::kPostgres && !postgres.empty()) return render(dialect, postgres);
  return render(dialect, sql);
}

}  // namespace mercato::sql

namespace mercato::sql {

void Connection::note_statement(std::string_view sql) noexcept {
  if (statements_++ > 0) return;
  // Kept as one of these constants, never as a view of `sql` (which the caller may free).
  static constexpr std::array<std::string_view, 11> kVerbs = {
      "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "ALTER", "DROP", "PRAGMA", "LOCK", "VALUES"};
  auto start = sql.find_first_not_of(" \t\r\n(");
  if (start == std::string_view::npos) return;
  auto word = sql.substr(start, sql.find_first_of(" \t\r\n(", start) - start);
  for (auto verb : kVerbs) {
    if (word.size() != verb.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < word.size() && same; ++i)
      same = std::toupper(static_cast<unsigned char>(word[i])) == verb[i];
    if (same) {
      first_operation_ = verb;
      return;
    }
  }
  first_operation_ = "OTHER";
}

}  // namespace mercato::sql
