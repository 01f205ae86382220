#include "mercato/core/ids.hpp"

#include <sys/mman.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace mercato {
namespace {

// Ids name orders and payments and travel in URLs, so they come from the kernel's CSPRNG (getrandom(2)):
// a seeded user-space generator such as a Mersenne Twister gives its whole state away after a few
// hundred observed outputs, and every later id with it.
//
// The kernel's bytes are taken a page at a time and handed out in order, each byte once: a request
// needs three ids (its own and its trace's two), and three getrandom calls per request were 3% of a
// proxied request's CPU (docs/benchmarks.md, section 15). What the buffer holds is the kernel's
// output, not a generator's state, so the ids seen tell nothing about the ones to come. A forked child
// must not repeat its parent's ids: the page is marked MADV_WIPEONFORK, so the child finds it zeroed,
// with nothing left in it, and refills it from the kernel. Where the kernel cannot wipe a page on fork
// (before Linux 4.14), every id calls getrandom.
void fill_from_kernel(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    auto got = ::getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // Only possible on a kernel without getrandom (before 3.17): an id that could repeat is worse.
      std::fputs("mercato: getrandom failed; cannot make random ids\n", stderr);
      std::abort();
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
}

class RandomPage {
 public:
  RandomPage() {
    void* p = ::mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    if (::madvise(p, sizeof(Page), MADV_WIPEONFORK) != 0) {
      ::munmap(p, sizeof(Page));
      return;
    }
    page_ = static_cast<Page*>(p);  // zeroed: nothing left, filled on first use
  }
  ~RandomPage() {
    if (page_ != nullptr) ::munmap(page_, sizeof(Page));
  }
  RandomPage(const RandomPage&) = delete;
  RandomPage& operator=(const RandomPage&) = delete;

  void take(std::uint8_t* out, std::size_t n) {
    if (page_ == nullptr || n > page_->bytes.size()) return fill_from_kernel(out, n);
    if (page_->left < n) {
      fill_from_kernel(page_->bytes.data(), page_->bytes.size());
      page_->left = page_->bytes.size();
    }
    std::uint8_t* from = page_->bytes.data() + (page_->bytes.size() - page_->left);
    std::memcpy(out, from, n);
    std::memset(from, 0, n);  // handed out: not kept for anyone who reads this memory later
    page_->left -= n;
  }

 private:
  struct Page {
    std::size_t left;  // bytes not yet handed out, at the end of `bytes`; 0 after a fork wiped the page
    std::array<std::uint8_t, 4096 - sizeof(std::size_t)> bytes;
  };
  static_assert(sizeof(Page) == 4096);
  Page* page_ = nullptr;
};

void fill_random(std::uint8_t* out, std::size_t n) {
  thread_local RandomPage page;
  page.take(out, n);
}

constexpr std::string_view kHex = "0123456789abcdef";

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string out(bytes * 2, '0');
  std::array<std::uint8_t, 64> chunk{};
  bool all_zero = true;
  for (std::size_t i = 0; i < bytes; i += chunk.size()) {
    std::size_t n = bytes - i < chunk.size() ? bytes - i : chunk.size();
    fill_random(chunk.data(), n);
    for (std::size_t j = 0; j < n; ++j) {
      unsigned b = chunk[j];
      if (b != 0) all_zero = false;
      out[2 * (i + j)] = kHex[b >> 4];
      out[2 * (i + j) + 1] = kHex[b & 0xfU];
    }
  }
  if (all_zero && bytes > 0) out.back() = '1';
  return out;
}

namespace {

std::string canonical(const std::array<std::uint8_t, 16>& b) {
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xfU]);
  }
  return out;
}

}  // namespace

std::string new_uuid() {
  std::array<std::uint8_t, 16> b{};
  fill_random(b.data(), b.size());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0fU) | 0x40U);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3fU) | 0x80U);  // RFC 4122 variant
  return canonical(b);
}

std::string new_time_ordered_uuid() {
  std::array<std::uint8_t, 16> b{};
  fill_random(b.data() + 6, b.size() - 6);
  auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0fU) | 0x70U);  // version 7
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3fU) | 0x80U);  // RFC 9562 variant
  return canonical(b);
}

}  // namespace mercato
