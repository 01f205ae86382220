// How a service's process hands memory back to the system.
//
// glibc's malloc serves a large block (128 KiB and up) with its own mapping, which free() returns at
// once — but the first such free raises that threshold to the block's size, so from then on blocks
// of that size come from the heap, and a heap is not shrunk below a block still in use above it. An
// argon2id hash needs 19 MiB: after two logins the user service kept 20 MiB of heap for good (47 MB
// resident idle instead of 28; docs/benchmarks.md, 14). Fixing the thresholds turns the adjustment off:
// a block of kMapThreshold or more is always a mapping of its own and goes back on free, smaller ones
// keep the heap's speed. The price: such a block's pages fault in afresh each time (an argon2id hash took
// 29 instead of 24 ms of CPU; docs/benchmarks.md, 14), so code that needs one often keeps its own — the
// user service's hasher does (argon2_password_hasher.hpp).
#pragma once

#include <cstddef>

namespace mercato::service {

inline constexpr std::size_t kMapThreshold = std::size_t{1} << 20;   // 1 MiB
inline constexpr std::size_t kTrimThreshold = std::size_t{2} << 20;  // free heap top kept: 2 MiB

// Sets both thresholds (mallopt); once, at the start of a process, before its threads. False when the
// C library refused (it never does on glibc).
bool return_large_blocks_to_the_system();

}  // namespace mercato::service
