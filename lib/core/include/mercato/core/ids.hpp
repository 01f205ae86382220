// Random identifiers: opaque ids for entities and requests, and the hex ids W3C trace context uses.
//
//   std::string id = mercato::new_uuid();   // "3f2b8c1e-9a4d-4c7e-8f21-0b6d5e4a9c13" (RFC 4122 v4)
//
// Thread-safety: all functions are thread-safe. The bytes come from the kernel CSPRNG (getrandom(2)),
// a page at a time per thread; a forked child never repeats its parent's ids (ids.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace mercato {

// A random RFC 4122 version 4 UUID in its canonical lowercase form.
std::string new_uuid();
// `bytes` random bytes as lowercase hex (2 * bytes characters), never all zero.
std::string random_hex(std::size_t bytes);

}  // namespace mercato
