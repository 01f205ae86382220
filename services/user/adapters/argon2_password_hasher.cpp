#include "adapters/argon2_password_hasher.hpp"

#include <argon2.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mercato/auth/base64url.hpp"
#include "mercato/auth/crypto.hpp"

namespace mercato::user {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::string_view kPrefix = "$argon2id$v=19$";

// The blocks hashes fill: taken for a hash, given back after it (libargon2 has wiped them), unmapped
// once idle long enough. One cache per process, since libargon2's allocator hooks are plain functions.
class BlockCache {
 public:
  static BlockCache& instance() {
    static BlockCache cache;
    return cache;
  }

  std::uint8_t* take(std::size_t bytes) {
    {
      std::lock_guard lock(mutex_);
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (it->bytes != bytes) continue;
        auto* data = it->data;
        idle_.erase(it);
        return data;
      }
    }
    void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return nullptr;
    std::lock_guard lock(mutex_);
    ++mapped_;
    ++maps_;
    return static_cast<std::uint8_t*>(data);
  }

  void give(std::uint8_t* data, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    idle_.push_back({data, bytes, Clock::now()});
  }

  std::size_t release(std::chrono::milliseconds idle_for) {
    std::vector<Block> going;
    {
      std::lock_guard lock(mutex_);
      auto now = Clock::now();
      std::erase_if(idle_, [&](const Block& b) {
        if (now - b.since < idle_for) return false;
        going.push_back(b);
        return true;
      });
      mapped_ -= going.size();
    }
    for (const auto& b : going) ::munmap(b.data, b.bytes);
    return going.size();
  }

  Argon2PasswordHasher::MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return {.mapped_blocks = mapped_, .idle_blocks = idle_.size(), .maps = maps_};
  }

 private:
  struct Block {
    std::uint8_t* data;
    std::size_t bytes;
    Clock::time_point since;
  };
  std::mutex mutex_;
  std::vector<Block> idle_;  // guarded by mutex_
  std::size_t mapped_ = 0;   // guarded by mutex_
  std::size_t maps_ = 0;     // guarded by mutex_
};

int allocate(std::uint8_t** memory, std::size_t bytes) {
  *memory = BlockCache::instance().take(bytes);
  return *memory != nullptr ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
}
void deallocate(std::uint8_t* memory, std::size_t bytes) { BlockCache::instance().give(memory, bytes); }

// PHC's base64: the standard alphabet without padding.
std::string to_base64(std::string_view bytes) {
  std::string text = auth::base64url_encode(bytes);
  for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
  return text;
}
std::optional<std::string> from_base64(std::string_view text) {
  std::string url(text);
  for (char& c : url) {
    if (c == '-' || c == '_') return std::nullopt;
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return auth::base64url_decode(url);
}

struct Encoded {
  std::uint32_t memory_kib = 0;
  std::uint32_t iterations = 0;
  std::uint32_t parallelism = 0;
  std::string salt;
  std::string hash;
};

// "$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>" with bounds no hash of ours exceeds; nullopt otherwise.
std::optional<Encoded> parse(std::string_view text) {
  if (!text.starts_with(kPrefix)) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  Encoded e;
  auto number = [&text](std::string_view key, char end, std::uint32_t& out) {
    if (!text.starts_with(key)) return false;
    text.remove_prefix(key.size());
    auto [next, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || next == text.data() + text.size() || *next != end) return false;
    text.remove_prefix(static_cast<std::size_t>(next - text.data()) + 1);
    return true;
  };
  if (!number("m=", ',', e.memory_kib) || !number("t=", ',', e.iterations) ||
      !number("p=", '$', e.parallelism))
    return std::nullopt;
  auto dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  auto salt = from_base64(text.substr(0, dollar));
  auto hash = from_base64(text.substr(dollar + 1));
  if (!salt || !hash) return std::nullopt;
  e.salt = std::move(*salt);
  e.hash = std::move(*hash);
  if (e.parallelism < 1 || e.parallelism > 16 || e.iterations < 1 || e.iterations > 100 ||
      e.memory_kib < 8 * e.parallelism || e.memory_kib > 1024 * 1024 || e.salt.size() < 8 ||
      e.salt.size() > 64 || e.hash.size() < 4 || e.hash.size() > 64)
    return std::nullopt;
  return e;
}

argon2_context context(std::uint8_t* out, std::size_t out_bytes, std::string_view password,
                       std::string_view salt, std::uint32_t memory_kib, std::uint32_t iterations,
                       std::uint32_t parallelism) {
  argon2_context ctx{};
  ctx.out = out;
  ctx.outlen = static_cast<std::uint32_t>(out_bytes);
  // libargon2 reads these (it writes them only with flags asking it to wipe them, which are not set).
  ctx.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));  // NOLINT
  ctx.pwdlen = static_cast<std::uint32_t>(password.size());
  ctx.salt = reinterpret_cast<std::uint8_t*>(const_cast<char*>(salt.data()));  // NOLINT
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.t_cost = iterations;
  ctx.m_cost = memory_kib;
  ctx.lanes = parallelism;
  ctx.threads = parallelism;
  ctx.version = ARGON2_VERSION_13;
  ctx.allocate_cbk = &allocate;
  ctx.free_cbk = &deallocate;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  return ctx;
}

// How often the idle blocks are looked at: a tenth of keep_idle, within 1..10 s.
std::chrono::milliseconds trim_interval(std::chrono::milliseconds keep_idle) {
  return std::clamp<std::chrono::milliseconds>(keep_idle / 10, std::chrono::seconds(1),
                                               std::chrono::seconds(10));
}

}  // namespace

Result<void> Argon2Settings::validate() const {
  if (memory_kib < 19 * 1024) return Error::validation("memory", "must be at least 19MiB (OWASP's minimum)");
  if (memory_kib > 1024 * 1024) return Error::validation("memory", "must be at most 1GiB");
  if (iterations < 2 || iterations > 100) return Error::validation("iterations", "must be within 2..100");
  if (parallelism < 1 || parallelism > 16) return Error::validation("parallelism", "must be within 1..16");
  if (keep_idle < std::chrono::milliseconds(0)) return Error::validation("keep_idle", "must not be negative");
  return {};
}

Argon2PasswordHasher::Argon2PasswordHasher(Argon2Settings settings)
    : settings_(settings),
      trimmer_(std::make_unique<core::Periodic>(
          trim_interval(settings.keep_idle), [keep = settings.keep_idle] { release_idle_memory(keep); })) {}

Result<std::string> Argon2PasswordHasher::hash(std::string_view password) {
  std::string salt = auth::random_bytes(kSaltBytes);
  std::array<std::uint8_t, kHashBytes> out{};
  std::string_view salt_view(salt);
  auto ctx = context(out.data(), out.size(), password, salt_view, settings_.memory_kib, settings_.iterations,
                     settings_.parallelism);
  int rc = argon2id_ctx(&ctx);
  if (rc != ARGON2_OK) return Error::internal(std::string("argon2id: ") + argon2_error_message(rc));
  return std::string(kPrefix) + "m=" + std::to_string(settings_.memory_kib) +
         ",t=" + std::to_string(settings_.iterations) + ",p=" + std::to_string(settings_.parallelism) + "$" +
         to_base64(salt_view) + "$" +
         to_base64(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));  // NOLINT
}

bool Argon2PasswordHasher::verify(std::string_view encoded, std::string_view password) {
  // Every hash of this service is in this form (libargon2's own, which is what it wrote before it used the
  // cache). Anything else is no hash of ours.
  auto e = parse(encoded);
  if (!e) return false;
  std::vector<std::uint8_t> out(e->hash.size());
  auto ctx = context(out.data(), out.size(), password, e->salt, e->memory_kib, e->iterations, e->parallelism);
  // Hashes into `out` and compares with the stored hash in constant time.
  return argon2_verify_ctx(&ctx, e->hash.data(), Argon2_id) == ARGON2_OK;
}

Argon2PasswordHasher::MemoryStats Argon2PasswordHasher::memory_stats() {
  return BlockCache::instance().stats();
}

std::size_t Argon2PasswordHasher::release_idle_memory(std::chrono::milliseconds idle) {
  return BlockCache::instance().release(idle);
}

}  // namespace mercato::user
