#include "mercato/core/ids.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace mercato {
namespace {

// One 64-bit generator per thread seeded from the OS: ids are unguessable enough for request and
// entity ids (they are not secrets) and cost no lock on the request path.
std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return gen;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string out(bytes * 2, '0');
  bool all_zero = true;
  for (std::size_t i = 0; i < bytes; i += 8) {
    std::uint64_t word = generator()();
    for (std::size_t j = i; j < bytes && j < i + 8; ++j) {
      auto b = static_cast<unsigned>(word & 0xffU);
      word >>= 8;
      if (b != 0) all_zero = false;
      out[2 * j] = kHex[b >> 4];
      out[2 * j + 1] = kHex[b & 0xfU];
    }
  }
  if (all_zero && bytes > 0) out.back() = '1';
  return out;
}

std::string new_uuid() {
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 16; i += 8) {
    std::uint64_t word = generator()();
    for (std::size_t j = 0; j < 8; ++j) b[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0fU) | 0x40U);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3fU) | 0x80U);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xfU]);
  }
  return out;
}

}  // namespace mercato
