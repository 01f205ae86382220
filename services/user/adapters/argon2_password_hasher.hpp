// PasswordHasher with argon2id (RFC 9106) from libargon2. Each hash gets 16 random bytes of salt from the
// CSPRNG and carries its parameters in its encoding (the PHC string format libargon2 itself writes:
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", base64 without padding), so a hash made with older
// parameters still verifies after they are raised.
//
// Memory. A hash fills `memory` (19 MiB at the defaults). The blocks come from a cache of this process
// (libargon2's allocator hooks), mapped from the system and kept while hashes keep coming: a fresh
// mapping costs every page a fault and a zeroing, about 5.5 ms of CPU per hash on top of 24
// (docs/benchmarks.md, 14). A block nobody used for `keep_idle` goes back to the system, so an idle
// service does not hold 19 MiB per hashing thread. libargon2 wipes a block before handing it back.
// The encoding is written and read here because libargon2 exports it only with its own allocator.
//
// Thread-safety: thread-safe. Each call uses `memory` of RAM for its duration and keeps its thread busy
// (tens of milliseconds at the defaults): that is the point of the function.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "app/password_hasher.hpp"
#include "mercato/core/periodic.hpp"

namespace mercato::user {

struct Argon2Settings {
  // OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane.
  std::uint32_t memory_kib = 19 * 1024;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
  // How long a hash's memory stays mapped after its last use (see above).
  std::chrono::milliseconds keep_idle{std::chrono::seconds(30)};

  // Refuses anything below OWASP's minimum (memory < 19 MiB or iterations < 2), parallelism outside
  // 1..16 and memory above 1 GiB, naming the setting.
  Result<void> validate() const;
};

class Argon2PasswordHasher final : public PasswordHasher {
 public:
  explicit Argon2PasswordHasher(Argon2Settings settings);
  Result<std::string> hash(std::string_view password) override;
  bool verify(std::string_view encoded, std::string_view password) override;

  // The process's cache of hash memory (all hashers share it), for tests and the trimming below.
  struct MemoryStats {
    std::size_t mapped_blocks = 0;  // mapped now, in use or idle
    std::size_t idle_blocks = 0;
    std::size_t maps = 0;  // mappings made since the process started
  };
  static MemoryStats memory_stats();
  // Unmaps the blocks idle for at least `idle`; returns how many. Runs every few seconds by itself.
  static std::size_t release_idle_memory(std::chrono::milliseconds idle);

 private:
  Argon2Settings settings_;
  std::unique_ptr<core::Periodic> trimmer_;
};

}  // namespace mercato::user
