// Random identifiers: opaque ids for entities and requests, and the hex ids W3C trace context uses.
//
//   std::string id = mercato::new_uuid();   // "3f2b8c1e-9a4d-4c7e-8f21-0b6d5e4a9c13" (RFC 4122 v4)
//   std::string key = mercato::new_time_ordered_uuid();   // "0193a1f2-7c4e-7d21-9f0a-5b6c7d8e9f10" (v7)
//
// Thread-safety: all functions are thread-safe. The bytes come from the kernel CSPRNG (getrandom(2)),
// a page at a time per thread; a forked child never repeats its parent's ids (ids.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace mercato {

// A random RFC 4122 version 4 UUID in its canonical lowercase form.
std::string new_uuid();
// An RFC 9562 version 7 UUID in the same form: the Unix time in milliseconds (48 bits, big-endian), then
// 74 random bits, so ids made later sort after ids made earlier (within a millisecond, in any order).
// For the keys of rows written at a high rate (orders, payments, shipments, notifications, events): a
// random key lands each insert on a different leaf page of every index over it, and a database writes
// each such page whole at commit (SQLite's WAL: a page, 2 KiB by default); time-ordered keys land a
// transaction's inserts on the same few pages (docs/benchmarks.md, 22). The time is not hidden: use
// new_uuid() for an id whose creation time is not everyone's to know (accounts, tokens) or that no index
// keeps.
std::string new_time_ordered_uuid();
// `bytes` random bytes as lowercase hex (2 * bytes characters), never all zero.
std::string random_hex(std::size_t bytes);

}  // namespace mercato
